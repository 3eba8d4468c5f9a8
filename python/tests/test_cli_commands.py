"""The inspection and configuration commands, through the real binary: help that teaches, clear
errors naming what was wrong, and output that stays machine-readable where scripts read it."""

from __future__ import annotations

import json
import sqlite3

from roar_cli import Project, last_run


def test_help_teaches_every_command(project: Project) -> None:
    help_text = project.cli("--help").stdout
    for command in ("init", "run", "recover", "status", "log", "show", "dag", "lineage", "config", "hash"):
        assert f"  {command}" in help_text, command
    run_help = project.cli("run", "--help").stdout
    assert "exit status is the command's" in run_help
    assert "roar run python train.py" in run_help


def test_outside_a_project_commands_say_what_to_do(tmp_path) -> None:
    import subprocess

    from roar_cli import roar_binary

    result = subprocess.run([str(roar_binary()), "status"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "roar init" in result.stderr


def test_config_rejects_unknown_keys_and_bad_values_naming_them(project: Project) -> None:
    bad_value = project.cli("config", "set", "ray.actor_attribution", "per_task", check=False)
    assert bad_value.returncode != 0
    assert "per_call" in bad_value.stderr and "per_task" in bad_value.stderr
    unknown = project.cli("config", "set", "ray.actor_atribution", "per_actor", check=False)
    assert unknown.returncode != 0 and "did you mean 'ray.actor_attribution'" in unknown.stderr
    project.cli("config", "set", "ray.actor_attribution", "per_actor")
    assert project.cli("config", "get", "ray.actor_attribution").stdout.strip() == "per_actor"
    (project.root / "roar.toml").write_text("[ray]\nenabled = true\nactor_atribution = \"per_call\"\n")
    broken = project.run("true", check=False)
    assert broken.returncode != 0
    assert "roar.toml:3" in broken.stderr and "actor_atribution" in broken.stderr


def test_show_log_dag_formats(project: Project) -> None:
    (project.root / "in.txt").write_text("x\n")
    project.run("sh", "-c", "cat in.txt > out.txt")
    job = last_run(project.dag())
    assert job["uid"][:8] in project.cli("log").stdout
    shown = project.cli("show", "@1").stdout
    assert "in.txt" in shown and "out.txt" in shown and "blake3:" in shown
    digest = job["outputs"][0]["hashes"]["blake3"]
    assert "written by" in project.cli("show", digest[:10]).stdout
    assert "digraph" in project.cli("dag", "--format", "dot").stdout
    assert project.cli("dag", "--format", "mermaid").stdout.startswith("flowchart")
    missing = project.cli("show", "@99", check=False)
    assert missing.returncode != 0 and "@99" in missing.stderr


def test_a_store_from_a_newer_roar_is_refused_untouched(project: Project) -> None:
    project.run("true")
    db_path = project.root / ".roar" / "roar.db"
    db = sqlite3.connect(db_path)
    db.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
    db.commit()
    db.close()
    def dump() -> list[str]:
        connection = sqlite3.connect(db_path)
        try:
            return list(connection.iterdump())
        finally:
            connection.close()

    before = dump()
    result = project.cli("status", check=False)
    assert result.returncode != 0
    assert "newer roar" in result.stderr
    assert dump() == before


def test_no_color_and_json_stay_plain(project: Project) -> None:
    project.run("true")
    text = project.cli("dag", "--format", "json").stdout
    assert "\x1b[" not in text
    json.loads(text)
