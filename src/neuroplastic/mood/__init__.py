"""Mood: latent severity from circuit state (or from monoamines, under the monoamine hypothesis) and rating scales."""

from .scales import SCALES, Scale, expected_scores, observed_scores, response, remission

__all__ = ["SCALES", "Scale", "expected_scores", "observed_scores", "response", "remission"]
