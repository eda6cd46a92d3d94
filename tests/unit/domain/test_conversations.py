"""Mails of one conversation wait for each other within a batch; others do not."""
from shared_code.domain.conversations import ConversationOrder, conversation_ids


def _order(*mails: set[str]) -> list[set[int]]:
    order = ConversationOrder()
    return [order.add(index, ids) for index, ids in enumerate(mails)]


def test_a_reply_chain_runs_in_listing_order():
    assert _order({"a"}, {"b", "a"}, {"c", "b"}) == [set(), {0}, {1}]


def test_unrelated_mails_do_not_wait():
    assert _order({"a"}, {"b"}, {"c"}, set()) == [set(), set(), set(), set()]


def test_a_mail_joining_two_chains_waits_for_both_and_merges_them():
    assert _order({"a"}, {"b"}, {"c", "a", "b"}, {"d", "b"}) == [set(), set(), {0, 1}, {2}]


def test_the_same_message_id_twice_is_one_chain():
    assert _order({"x"}, {"y"}, {"x"}) == [set(), set(), {0}]


def test_conversation_ids_are_the_union_of_the_headers():
    assert conversation_ids("m", ["r1"], ["r0", "r1", ""]) == {"m", "r0", "r1"}
    assert conversation_ids(None, [], []) == set()
