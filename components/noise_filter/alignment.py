"""Rewrite a text step by step while remembering where every character came from.

NoiseFilter rewrites what the user typed ("wheres my ordr" -> "where is my order"); everything
after it (tokenizer, DIET's entity spans) works on the rewritten text. `RewrittenText` keeps,
for each character of the current text, the span of the original text it stems from, so spans
can be mapped both ways:

- unchanged characters map one to one;
- characters produced by a rewrite map to the whole original span that was rewritten
  (an entity "order" found in "ordr" maps to the original "ordr").

The mapping is exported compactly as `alignment` runs `[clean_start, clean_end, orig_start,
orig_end]` (JSON-friendly, goes into parse_data), and `to_original_span` works on those runs.
"""
import bisect
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

Edit = Tuple[int, int, Text, Optional[Text]]  # (start, end, replacement, kind or None)
Run = List[int]  # [clean_start, clean_end, orig_start, orig_end]


class RewrittenText:
    """The current text plus, per character, the original span (`starts[i]`, `ends[i]`)."""

    def __init__(self, original: Text) -> None:
        self.original = original
        self.text = original
        self.starts: List[int] = list(range(len(original)))
        self.ends: List[int] = list(range(1, len(original) + 1))
        self.corrections: List[Dict[Text, Any]] = []

    def apply(self, edits: Sequence[Edit]) -> None:
        """Apply non-overlapping edits given in current-text coordinates, in one pass.

        An edit with a `kind` is listed in `corrections` (from, to, kind and the original span).
        """
        if not edits:
            return
        text, starts, ends = self.text, self.starts, self.ends
        pieces: List[Text] = []
        new_starts: List[int] = []
        new_ends: List[int] = []
        position = 0
        for start, end, replacement, kind in sorted(edits, key=lambda e: (e[0], e[1])):
            if start < position:  # overlaps an earlier edit: keep the first one
                continue
            pieces.append(text[position:start])
            new_starts.extend(starts[position:start])
            new_ends.extend(ends[position:start])
            orig_start, orig_end = self._original_span_of(start, end)
            pieces.append(replacement)
            new_starts.extend([orig_start] * len(replacement))
            new_ends.extend([orig_end] * len(replacement))
            if kind:
                self.corrections.append(
                    {
                        "from": text[start:end],
                        "to": replacement,
                        "kind": kind,
                        "start": orig_start,
                        "end": orig_end,
                    }
                )
            position = end
        pieces.append(text[position:])
        new_starts.extend(starts[position:])
        new_ends.extend(ends[position:])
        self.text = "".join(pieces)
        self.starts, self.ends = new_starts, new_ends

    def _original_span_of(self, start: int, end: int) -> Tuple[int, int]:
        if start < end:
            return self.starts[start], self.ends[end - 1]
        # An insertion sits between two characters: anchor it to the next one.
        if start < len(self.starts):
            return self.starts[start], self.starts[start]
        anchor = self.ends[-1] if self.ends else 0
        return anchor, anchor

    def alignment(self) -> List[Run]:
        """Runs of the current text that map to the original text as one block each."""
        runs: List[Run] = []
        for i, (start, end) in enumerate(zip(self.starts, self.ends)):
            if runs:
                last = runs[-1]
                if (start, end) == (last[2], last[3]):  # more of the same rewritten block
                    last[1] = i + 1
                    continue
                unchanged_run = last[3] - last[2] == last[1] - last[0]
                if end - start == 1 and start == last[3] and unchanged_run:
                    last[1], last[3] = i + 1, end
                    continue
            runs.append([i, i + 1, start, end])
        return runs

    def to_clean_span(self, orig_start: int, orig_end: int) -> Optional[Tuple[int, int]]:
        """Where the original span [orig_start, orig_end) ended up, or None if it was removed.

        `starts` and `ends` never decrease (edits keep the order of the text), so two
        binary searches find the first and last characters that come from the span.
        """
        first = bisect.bisect_right(self.ends, orig_start)
        last = bisect.bisect_left(self.starts, orig_end) - 1
        if first > last:
            return None
        return first, last + 1


def to_original_span(alignment: Sequence[Run], start: int, end: int) -> Tuple[int, int]:
    """Map a span of the cleaned text to the span of the original text it came from."""
    if not alignment or end <= start:
        return start, end
    return _original_offset(alignment, start, is_end=False), _original_offset(
        alignment, end - 1, is_end=True
    )


def _original_offset(alignment: Sequence[Run], index: int, is_end: bool) -> int:
    position = bisect.bisect_right([run[0] for run in alignment], index) - 1
    clean_start, clean_end, orig_start, orig_end = alignment[max(position, 0)]
    index = min(max(index, clean_start), clean_end - 1)
    if orig_end - orig_start == clean_end - clean_start:  # unchanged characters
        return orig_start + (index - clean_start) + (1 if is_end else 0)
    return orig_end if is_end else orig_start
