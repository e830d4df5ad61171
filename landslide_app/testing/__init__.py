"""Test and benchmark support shipped with the package (loopback servers, fixtures)."""
