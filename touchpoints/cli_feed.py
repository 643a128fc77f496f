"""``touchpoints feed callcenter|shop PATH``: import file feeds into the raw topic."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click

from producers.feeds.importer import Feed, RecordSink
from schemas.events import TouchpointEvent
from touchpoints.progress import Tracker, progress


def _feeds() -> dict[str, Feed]:
    """Built-in feeds, then one per registered source that declares ``map_record``."""
    from producers.feeds import callcenter, shop
    from producers.feeds.registered import registered_feed
    from schemas.events import REGISTERED_SOURCES

    return {
        "callcenter": Feed("call_center", callcenter.cdr_event, callcenter.PII_FIELDS),
        "shop": Feed("shop", shop.shop_event, shop.PII_FIELDS),
        **{s.name: registered_feed(s) for s in REGISTERED_SOURCES if s.map_record is not None},
    }


class CountedSink:
    """A record sink that shows each record it takes on the progress display, under a name."""

    def __init__(self, sink: RecordSink, shown: Tracker, counts: dict[str, int], name: str) -> None:
        self._sink, self._shown, self._counts, self._name = sink, shown, counts, name

    def send(self, event: TouchpointEvent) -> None:
        self._sink.send(event)
        self._count()

    def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        self._sink.send_raw(value, key=key)
        self._count()

    def flush(self) -> None:
        self._sink.flush()

    def _count(self) -> None:
        self._counts[self._name] += 1
        note = ", ".join(f"{name} {count:,}" for name, count in self._counts.items())
        self._shown.update(sum(self._counts.values()), note=note)


@click.command()
@click.argument("kind")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--watch", is_flag=True, help="Keep watching PATH for new lines and new files.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Checkpoint folder (default TOUCHPOINTS_FEED_STATE_DIR or .feeds).")  # fmt: skip
@click.option("--max-lines", type=int, help="Stop after this many lines (checkpointed).")
def feed(kind: str, path: Path, watch: bool, state_dir: Path | None, max_lines: int | None) -> None:
    """Import call detail records (callcenter), POS and queue-sensor records (shop), or the
    records of a registered source (KIND = its name; `touchpoints source list`).

    PATH is a .csv (header line first) or .jsonl file, or a folder of them.
    Each file resumes where the last run stopped (checkpoints after Kafka
    acknowledged); rows that cannot be mapped become dead letters naming the field.
    """
    from producers.feeds.checkpoint import CheckpointStore
    from producers.feeds.importer import FeedImporter
    from producers.feeds.settings import FeedSettings
    from producers.feeds.watch import run_feed
    from producers.pii import PiiHasher
    from producers.producer import EventProducer
    from producers.settings import ProducerSettings
    from schemas.settings import KafkaSettings, PiiKeySettings
    from schemas.timeutil import utc_now
    from touchpoints.cli import load

    feeds = _feeds()
    if kind not in feeds:
        raise click.BadParameter(f"{kind!r}: choose from {', '.join(feeds)}", param_hint="KIND")
    settings = load(FeedSettings, state_dir=state_dir)
    kafka, producing = load(KafkaSettings), load(ProducerSettings)
    hasher = PiiHasher(load(PiiKeySettings).key())  # refuses the public key outside local runs
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    counts = {"events": 0, "dead letters": 0}
    with (
        progress(f"feed {kind}", total=max_lines, unit="records") as shown,
        EventProducer(kafka, producing) as event_sink,
        EventProducer(kafka, producing, topic=kafka.topics.deadletter) as dead_letter_sink,
    ):
        events = CountedSink(event_sink, shown, counts, "events")
        dead_letters = CountedSink(dead_letter_sink, shown, counts, "dead letters")
        importer = FeedImporter(feeds[kind], events, dead_letters,
                                CheckpointStore(settings.state_dir), hasher, settings.zone(),
                                utc_now, settings.chunk_lines, settings.max_line_bytes)  # fmt: skip
        done = run_feed(importer, path, watch, settings.poll_seconds, lambda: bool(stopping),
                        max_lines)  # fmt: skip
    click.echo(f"{kind}: {done.lines} lines, {done.events} events, "
               f"{done.dead_letters} dead letters")  # fmt: skip
