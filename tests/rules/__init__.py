"""Tests of the scorecard rules (a package so the tests can share ``strategies``)."""
