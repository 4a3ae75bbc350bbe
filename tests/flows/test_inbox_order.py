"""The batch scores claims in inbox order, whichever packet finishes reading first."""

from __future__ import annotations

import threading
import time

from flows.batch import InboxOrder


def test_inbox_order_records_in_inbox_order_when_reading_finishes_backwards():
    names = ["a", "b", "c", "d"]
    order = InboxOrder(names)
    recorded: list[str] = []
    lock = threading.Lock()

    def packet(name: str, read_seconds: float) -> None:
        try:
            time.sleep(read_seconds)  # the later packets finish reading first
            assert order.wait_for_turn(name)
            with lock:
                recorded.append(name)
        finally:
            order.finish(name)

    threads = [
        threading.Thread(target=packet, args=(name, 0.05 * (len(names) - i)))
        for i, name in enumerate(names)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert recorded == names


def test_inbox_order_a_finished_packet_without_a_claim_lets_the_next_go():
    order = InboxOrder(["a", "b"], timeout=1.0)
    order.finish("a")  # quarantined or skipped: nothing recorded, but its turn is over
    assert order.wait_for_turn("b")


def test_inbox_order_times_out_instead_of_hanging():
    order = InboxOrder(["a", "b"], timeout=0.05)
    assert not order.wait_for_turn("b")
    assert order.wait_for_turn("a")
    assert order.wait_for_turn("unknown")
