"""Black-box probes of a running intake (issue #15): each finding, driven from outside over HTTP and gRPC."""
