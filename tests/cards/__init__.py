"""Tests of the Adaptive Card builders (cards/)."""
