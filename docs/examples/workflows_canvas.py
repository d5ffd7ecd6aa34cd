"""Every canvas primitive, run: chain, group, chord, map, starmap, chunks, si, nesting, Dag."""

import aqueue
from aqueue import JobContext, task
from aqueue.workflows import Dag, NodeState, RunState, chain, chord, group, si, sig


# --8<-- [start:tasks]
@task
async def fetch(ctx: JobContext, url: str) -> str:
    return f"<html>{url}</html>"


@task
async def parse(ctx: JobContext, html: str) -> int:
    return len(html)


@task
async def store(ctx: JobContext, size: int, where: str) -> str:
    return f"stored {size} in {where}"


@task
async def add(ctx: JobContext, x: int, y: int) -> int:
    return x + y


@task
async def xsum(ctx: JobContext, numbers: list[int], *extra: list[int]) -> int:
    return sum(numbers) + sum(sum(e) for e in extra)


@task
async def stats(ctx: JobContext, size: int) -> dict[str, int]:
    return {"size": size, "kb": size // 1024}


@task
async def report(ctx: JobContext, parts: list) -> str:
    size, info = parts
    return f"{size} chars, {info['kb']} kB"


class WorkerSettings:
    functions = [fetch, parse, store, add, xsum, stats, report]


# --8<-- [end:tasks]


async def main() -> None:
    async with aqueue.Client() as client:
        # --8<-- [start:chain]
        pipeline = sig("fetch", "a.html") | sig("parse") | sig("store", "db")  # = chain(...)
        run = await pipeline.enqueue()  # or: await client.run(pipeline)
        assert await run.result(timeout=10) == "stored 19 in db"  # store(parse(fetch("a.html")), "db")
        # --8<-- [end:chain]

        # --8<-- [start:group]
        run = await client.run(group(sig("add", i, i) for i in range(5)))
        assert await run.result(timeout=10) == [0, 2, 4, 6, 8]  # in member order
        # --8<-- [end:group]

        # --8<-- [start:chord]
        run = await client.run(chord([sig("add", i, i) for i in range(10)], sig("xsum", [20])))
        assert await run.result(timeout=10) == 110  # xsum([0, 2, ..., 18], [20])
        # --8<-- [end:chord]

        # --8<-- [start:si]
        run = await client.run(sig("add", 1, 1) | si("add", 5, 5))  # si: runs after, ignores the 2
        assert await run.result(timeout=10) == 10
        # --8<-- [end:si]

        # --8<-- [start:maps]
        run = await client.run(sig("parse").map(["a", "bb", "ccc"]))  # one job, three calls
        assert await run.result(timeout=10) == [1, 2, 3]
        run = await client.run(sig("store", "db").map([1, 2]))  # its own args follow each item
        assert await run.result(timeout=10) == ["stored 1 in db", "stored 2 in db"]
        run = await client.run(sig("add").starmap(zip(range(100), range(100))))  # one job
        assert (await run.result(timeout=10))[:3] == [0, 2, 4]
        run = await client.run(sig("add").chunks(zip(range(100), range(100)), 10))  # 10 jobs of 10
        chunks = await run.result(timeout=10)
        assert len(chunks) == 10 and chunks[1][:2] == [20, 22]  # a list of lists
        pages = group(sig("fetch", name) for name in ["a", "bb"])  # -> ["<html>a</html>", ...]
        run = await client.run(pages | sig("parse").map())  # no items: maps over what it receives
        assert await run.result(timeout=10) == [14, 15]
        # --8<-- [end:maps]

        # --8<-- [start:nesting]
        nested = chain(
            group(sig("add", 1, 1), sig("add", 2, 2)),  # -> [2, 4]
            sig("xsum"),  # -> 6
            group(sig("add", 10), chain(sig("add", 100), sig("add", 1000))),  # each gets 6
        )
        run = await client.run(nested)
        assert await run.result(timeout=10) == [16, 1106]
        # --8<-- [end:nesting]

        # --8<-- [start:dag]
        dag = Dag()
        page = dag.add(sig("fetch", "b.html"))
        size = dag.add(sig("parse"), after=page)  # receives fetch's result
        info = dag.add(sig("stats"), after=size)
        summary = dag.add(sig("report"), after=[size, info])  # receives [parse's, stats']
        run = await client.run(dag.build(output=summary))
        assert await run.result(timeout=10) == "19 chars, 0 kB"
        # --8<-- [end:dag]

        # --8<-- [start:status]
        status = await run.status()
        assert status.state is RunState.COMPLETE
        assert [(n.task, n.state, n.parents) for n in status.nodes] == [
            ("fetch", NodeState.DONE, ()),
            ("parse", NodeState.DONE, (0,)),
            ("stats", NodeState.DONE, (1,)),
            ("report", NodeState.DONE, (1, 2)),
        ]
        # --8<-- [end:status]
