import pytest

from transforms.kafka.restriction import PartitionRange, PartitionRangeTracker


def test_window_boundaries_are_aligned_to_the_origin():
    r = PartitionRange(start=100, stop=1000, origin=100, flush_size=50)
    assert r.window_start(100) == 100
    assert r.window_start(149) == 100
    assert r.window_start(150) == 150
    assert r.next_boundary(150) == 150
    assert r.next_boundary(151) == 200


def test_split_is_rounded_up_to_a_window_boundary():
    tracker = PartitionRangeTracker(PartitionRange(0, 1000, 0, 100))
    assert tracker.try_claim(10)
    primary, residual = tracker.try_split(0.5)
    # halfway between 11 and 1000 is 505; the window edge after it is 600
    assert (primary.start, primary.stop) == (0, 600)
    assert (residual.start, residual.stop) == (600, 1000)
    assert tracker.current_restriction() == primary


def test_checkpoint_keeps_the_open_window_in_the_primary():
    tracker = PartitionRangeTracker(PartitionRange(0, 1000, 0, 100))
    assert tracker.try_claim(250)
    primary, residual = tracker.try_split(0)
    assert primary.stop == 300 and residual.start == 300


def test_no_split_inside_the_last_window():
    tracker = PartitionRangeTracker(PartitionRange(0, 1000, 0, 100))
    assert tracker.try_claim(950)
    assert tracker.try_split(0.5) is None


def test_a_refused_claim_may_be_followed_by_a_smaller_claim_in_range():
    tracker = PartitionRangeTracker(PartitionRange(0, 1000, 0, 100))
    assert tracker.try_claim(5)
    tracker.try_split(0.1)  # range is now [0, 200)
    assert not tracker.try_claim(450)
    assert tracker.try_claim(199)
    tracker.check_done()


def test_check_done_names_unread_offsets():
    tracker = PartitionRangeTracker(PartitionRange(0, 10, 0, 5))
    assert tracker.try_claim(3)
    with pytest.raises(ValueError, match="offsets 4..9"):
        tracker.check_done()


def test_claims_must_increase():
    tracker = PartitionRangeTracker(PartitionRange(0, 10, 0, 5))
    assert tracker.try_claim(3)
    with pytest.raises(ValueError):
        tracker.try_claim(3)


def test_progress():
    tracker = PartitionRangeTracker(PartitionRange(10, 20, 10, 5))
    tracker.try_claim(14)
    progress = tracker.current_progress()
    assert (progress.completed_work, progress.remaining_work) == (5, 5)
