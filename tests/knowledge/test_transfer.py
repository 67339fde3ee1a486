# ruff: noqa: RUF001  (Arabic and Persian samples)
"""`frontdesk kb import` / `kb export`: JSON Lines in, the same lines out, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from frontdesk.kit.errors import Invalid
from frontdesk.knowledge import repository
from frontdesk.knowledge.transfer import export_lines, import_lines
from frontdesk.runtime import Runtime

LINES = [
    {
        "language": "en",
        "title": "Opening hours",
        "body": "We are open **9–17**.",
        "status": "published",
        "category": "General",
        "tags": ["hours"],
        "questions": ["When are you open?"],
        "translations": [
            {
                "language": "ar",
                "title": "ساعات العمل",
                "body": "من ٩ إلى ١٧",
                "questions": ["متى تفتحون؟"],
            }
        ],
    },
    {"language": "fa", "title": "ارسال", "body": "ارسال رایگان است.", "status": "draft"},
]


class TestImport:
    async def test_creates_articles_with_translations(self, runtime: Runtime):
        async with runtime.db.session() as session:
            created = await import_lines(session, [json.dumps(line) for line in LINES] + [""])
            assert created == 2
            exported = [json.loads(line) async for line in export_lines(session)]
        assert [{k: v for k, v in line.items() if k != "id"} for line in exported] == [
            LINES[0],
            {**LINES[1], "category": None, "tags": [], "questions": [], "translations": []},
        ]

    async def test_a_bad_line_is_named_and_nothing_is_created(self, runtime: Runtime):
        async with runtime.db.session() as session:
            with pytest.raises(Invalid, match="line 2"):
                await import_lines(session, [json.dumps(LINES[0]), json.dumps({"title": "x"})])
            await session.rollback()
            assert await repository.all_articles(session) == []


def test_the_commands_round_trip(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}

    def frontdesk(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "frontdesk", *args],
            env={**env, "FRONTDESK_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    source = tmp_path / "articles.jsonl"
    source.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in LINES) + "\n")
    first, second = tmp_path / "one", tmp_path / "two"
    for data_dir in (first, second):
        assert frontdesk(data_dir, "migrate").returncode == 0
    imported = frontdesk(first, "kb", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "imported 2 articles"
    exported = frontdesk(first, "kb", "export")
    assert exported.returncode == 0, exported.stderr
    dump = tmp_path / "dump.jsonl"
    dump.write_text(exported.stdout)
    assert frontdesk(second, "kb", "import", str(dump)).returncode == 0
    assert frontdesk(second, "kb", "export").stdout == exported.stdout
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    refused = frontdesk(second, "kb", "import", str(broken))
    assert refused.returncode == 1 and "line 1" in refused.stderr
