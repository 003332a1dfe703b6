"""``retell-connector export mcp``: server.json and client configs, checked by a third-party
linter (skillsaw, which bundles the MCP registry's published server.json schemas)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from connector.platforms import export, load_source

BASE = "https://calls.acme.com"
FILES = ["server.json", "claude_desktop_config.json", ".mcp.json", ".vscode/mcp.json"]


def lint(directory: Path) -> list[dict[str, Any]]:
    """skillsaw's findings for ``directory`` (it reads server.json, .mcp.json, .vscode/mcp.json)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "skillsaw",
            "lint",
            "--format",
            "json",
            "--no-progress",
            str(directory),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    findings: list[dict[str, Any]] = report["violations"]
    return findings


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    out = tmp_path / "mcp"
    written = export("mcp", out, source=load_source(BASE))
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(FILES)
    return out


def test_every_file_is_json(exported: Path) -> None:
    """Each written file parses as a JSON object."""
    for name in FILES:
        assert isinstance(json.loads((exported / name).read_text()), dict)


def test_server_json_follows_the_registry_schema(exported: Path) -> None:
    """server.json is valid against the registry's 2025-12-11 schema and names both ways in."""
    schema_text = resources.files("skillsaw.schemas.mcp_registry.v2025_12_11").joinpath(
        "server.schema.json"
    )
    schema = json.loads(schema_text.read_text())
    document = json.loads((exported / "server.json").read_text())
    assert document["$schema"] == schema["$id"]
    assert sorted(e.message for e in Draft7Validator(schema).iter_errors(document)) == []
    assert document["name"] == "com.acme.calls/retell-connector"
    assert document["remotes"] == [
        {**document["remotes"][0], "type": "streamable-http", "url": f"{BASE}/mcp"}
    ]
    assert document["packages"][0]["packageArguments"][1]["value"] == BASE


def test_the_linter_passes_the_export_and_fails_a_broken_one(
    exported: Path, tmp_path: Path
) -> None:
    """skillsaw finds nothing in the export; a copy with a wrong transport it flags."""
    assert lint(exported) == []
    broken = tmp_path / "broken"
    shutil.copytree(exported, broken)
    document = json.loads((broken / ".mcp.json").read_text())
    del document["mcpServers"]["retell-connector"]["url"]
    (broken / ".mcp.json").write_text(json.dumps(document))
    assert [(f["file_path"], f["severity"]) for f in lint(broken)] == [(".mcp.json", "error")]


def test_claude_desktop_config_runs_the_stdio_command(exported: Path, tmp_path: Path) -> None:
    """Claude Desktop starts ``retell-connector mcp --url`` with the token in its environment;
    the file has the shape the linter checks for ``mcpServers`` maps."""
    config = json.loads((exported / "claude_desktop_config.json").read_text())
    server = config["mcpServers"]["retell-connector"]
    assert [server["command"], *server["args"]] == ["retell-connector", "mcp", "--url", BASE]
    assert list(server["env"]) == ["RETELL_CONNECTOR_TOKEN"]
    alone = tmp_path / "desktop"
    alone.mkdir()
    (alone / ".mcp.json").write_text(json.dumps(config))
    assert lint(alone) == []


def test_the_cli_writes_the_files(tmp_path: Path) -> None:
    """``retell-connector export mcp --out DIR`` prints each path it wrote."""
    command = str(Path(sys.executable).with_name("retell-connector"))
    done = subprocess.run(
        [command, "export", "mcp", "--out", str(tmp_path), "--base-url", BASE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(
        Path(line).relative_to(tmp_path).as_posix() for line in done.stdout.split()
    ) == sorted(FILES)
