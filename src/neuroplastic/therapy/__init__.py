"""Psychotherapy and placebo as inputs: session exposure, between-session practice and expectancy."""
