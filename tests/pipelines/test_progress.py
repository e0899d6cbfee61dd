"""The terminal progress display and log lines on the same terminal, read back as a terminal shows them."""

import io
import logging
import time

from pipelines.progress import Progress
from transforms.kafka import progress as reader_progress
from transforms.kafka.planning import PartitionPlan


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _screen(text):
    """What a terminal shows after ``text``: the cursor moves, line and screen erases the display uses."""
    rows, row, i = [""], 0, 0
    while i < len(text):
        if text.startswith("\x1b[", i):
            end = i + 2
            while not text[end].isalpha():
                end += 1
            argument, command = text[i + 2:end], text[end]
            if command == "A":
                row = max(0, row - int(argument or 1))
            elif command == "K":
                rows[row] = ""
            elif command == "J":
                rows[row] = ""
                del rows[row + 1:]
            i = end + 1
            continue
        if text[i] == "\n":
            row += 1
            rows.extend([""] * (row + 1 - len(rows)))
        elif text[i] == "\r":
            rows[row] = ""
        else:
            rows[row] += text[i]
        i += 1
    return [r for r in rows if r]


def test_log_lines_are_neither_overwritten_nor_followed_by_a_second_display():
    terminal = _Terminal()
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    plans = [PartitionPlan("orders", 0, 0, 10), PartitionPlan("orders", 1, 0, 10)]
    try:
        with Progress(plans, terminal):
            reader_progress.report("orders", 0, 10, 10)
            time.sleep(0.7)  # the display is drawn at least once
            logging.getLogger("transforms.kafka.commit").info("committed orders partition 0")
            reader_progress.report("orders", 1, 10, 10)
            time.sleep(0.7)
            logging.getLogger("transforms.kafka.commit").info("committed orders partition 1")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    shown = _screen(terminal.getvalue())
    assert shown[:2] == ["committed orders partition 0", "committed orders partition 1"]
    assert shown[2:] == ["  orders[0] 10/10", "  orders[1] 10/10", shown[4]]
    assert shown[4].startswith("total 20/20 offsets (100%)")
    assert "\x1b[J" in terminal.getvalue()  # the display was up, and was taken down for a log line
