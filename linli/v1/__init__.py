"""Generated code for protos/linli/v1 (`make protos`); every other file here is generated, never edit it."""
