"""RecallCheck's measure: the share of a probe's exact neighbours the index search found."""

from __future__ import annotations

import math

from motadata_ai.adapters.postgres.index_recall import RecallCheck

CHECK = RecallCheck(target=0.95, probes=2, k=3)


def test_recall_is_the_share_of_exact_neighbours_found() -> None:
    exact = {"a": [0.1, 0.2, 0.3], "b": [0.1, 0.2, 0.3]}
    found = {"a": [0.1, 0.2, 0.3], "b": [0.1, 0.35, 0.4]}  # b's index search missed two
    assert CHECK._recall(exact, found) == 4 / 6


def test_a_row_at_the_kth_distance_counts_whichever_of_the_tied_rows_it_is() -> None:
    exact = {"a": [0.1, 0.3, 0.3]}
    assert CHECK._recall(exact, {"a": [0.1, 0.3, 0.3]}) == 1.0
    assert CHECK._recall(exact, {"a": [0.1, 0.3, 0.3000001]}) == 1.0  # float noise of the two scans
    assert CHECK._recall(exact, {"a": [0.1, 0.3, 0.31]}) == 2 / 3


def test_fewer_hits_than_neighbours_count_as_misses_and_extra_ones_do_not_add() -> None:
    exact = {"a": [0.1, 0.2, 0.3]}
    assert CHECK._recall(exact, {"a": [0.1]}) == 1 / 3
    assert CHECK._recall(exact, {}) == 0.0
    assert CHECK._recall({"a": [0.1, 0.2]}, {"a": [0.1, 0.1, 0.1]}) == 1.0  # at most its neighbours


def test_probes_without_neighbours_are_left_out() -> None:
    assert CHECK._recall({"a": []}, {"a": []}) == 1.0
    assert CHECK._recall({"a": [], "b": [0.2]}, {"b": [0.5]}) == 0.0
    assert not math.isnan(CHECK._recall({}, {}))
