"""Shared fixtures. Tests never reach the internet: fakes listen on 127.0.0.1 only."""
