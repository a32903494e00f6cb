"""What words tell of a phrase: whether it sounds finished."""

from __future__ import annotations

import re

UNFINISHED_ENDINGS = frozenset(
    {
        "a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "that", "these", "those", "some",
        "any", "every", "no", "and", "or", "but", "nor", "so", "because", "since", "although", "though", "if",
        "unless", "until", "while", "when", "whenever", "where", "whether", "than", "as", "like", "to", "for", "of",
        "with", "without", "about", "at", "by", "from", "in", "into", "on", "onto", "over", "under", "after", "before",
        "between", "through", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "have",
        "has", "had", "will", "would", "can", "could", "should", "shall", "may", "might", "must", "i", "you", "he",
        "she", "we", "they", "it's", "i'm", "i'd", "i'll", "i've", "you're", "we're", "they're", "there's", "let's",
        "want", "wanna", "need", "gonna", "going", "trying", "try", "please",
    }
)  # fmt: skip
"""Words a finished phrase rarely ends with: after them the speaker is most likely still going (and a spoken
piece cut there sounds cut off)."""


def normalized(text: str) -> str:
    """Words as they are compared: lowercase, without punctuation."""
    return " ".join(re.findall(r"[\w']+", text.lower()))
