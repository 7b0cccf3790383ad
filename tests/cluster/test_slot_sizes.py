"""How many slots share an actor: as many as asked, but a divisor of every node's slots, so actors fill
every node and none asks for more than a node has."""

from __future__ import annotations

from shipyard.cluster.slots import fitting


def test_one_actor_fills_a_node_that_offers_fewer_slots_than_asked() -> None:
    assert fitting(16, [12, 12]) == 12


def test_mixed_nodes_get_actors_that_fill_each_of_them() -> None:
    assert fitting(16, [8, 12]) == 4, "12 would fit no 8-slot node; 8 would leave 4 of 12 idle"
    assert fitting(16, [32, 48]) == 16
    assert fitting(6, [7]) == 1, "a prime node: one slot per actor leaves nothing idle"


def test_before_any_node_offers_slots_the_setting_stands() -> None:
    assert fitting(16, []) == 16
