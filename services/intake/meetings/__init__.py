"""Residents' meeting (议事协商): hot topics put to it, its meetings and decisions, and the public record (全透明)."""
