"""The Harbor importer and the pieces of the harbor_tests check that are pure logic (no containers)."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from groundtruth.checks.harbor import _results, defined_tests
from groundtruth.cli import app
from groundtruth.harbor import dockerfile, testsh
from groundtruth.harbor.importer import HarborImportError, import_task, toml_value
from groundtruth.harbor.model import Environment
from groundtruth.taskimage import RecipeError, plan, recipe_steps
from groundtruth.tasks.spec import HarborTests, ImageSpec, load_task

FIXTURES = Path(__file__).parent / "fixtures" / "harbor"
NAMES = ["csv-report", "fix-median", "hex-signature", "inventory-config"]


def test_dockerfile_apt_lines_become_packages_and_network_steps_are_reported() -> None:
    tr = dockerfile.translate(
        "FROM ubuntu:24.04\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends git xxd=2:9.0 \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
        "RUN pip install requests && mkdir -p /data\n"
        "WORKDIR /app\nCOPY a.txt /app/\nUSER nobody\nCMD [\"bash\"]\n"
    )
    assert tr.packages == ["git", "xxd"]
    assert tr.workdir == "/app"
    assert "RUN mkdir -p /data\n" in tr.steps and "COPY a.txt /app/\n" in tr.steps
    dropped = {n.what.split()[0]: n.reason for n in tr.notes if n.status == "not translated"}
    assert set(dropped) == {"pip", "USER", "CMD"}
    assert "network" in dropped["pip"]
    assert any(n.status == "changed" and "pin" in n.reason for n in tr.notes)
    # what is kept is exactly what the build accepts
    original, steps = recipe_steps("".join(tr.steps), "x")
    assert original == "ubuntu:24.04" and len(steps) == 3


def test_recipe_refuses_what_a_network_free_build_cannot_do() -> None:
    with pytest.raises(RecipeError, match="multi-stage"):
        recipe_steps("FROM a AS b\nRUN true\nFROM c\n", "x")
    with pytest.raises(RecipeError, match="CMD is not supported"):
        recipe_steps("FROM a\nCMD [\"x\"]\n", "x")
    with pytest.raises(RecipeError, match="network"):
        recipe_steps("FROM a\nADD https://example.invalid/x /x\n", "x")


def test_test_sh_standard_pattern_and_custom_lines() -> None:
    ts = testsh.parse(
        "#!/bin/bash\napt-get update\napt-get install -y curl\ncurl -LsSf https://astral.sh/uv/0.9.5/install.sh | sh\n"
        "source $HOME/.local/bin/env\nuvx -p 3.13 -w pytest==8.4.1 -w numpy==2.0 \\\n"
        "  pytest --ctrf /logs/verifier/ctrf.json /tests/test_a.py /tests/test_b.py -rA\n"
        "python3 /tests/check_extra.py\n"
        "if [ $? -eq 0 ]; then\n  echo 1 > /logs/verifier/reward.txt\nelse\n  echo 0 > /logs/verifier/reward.txt\nfi\n"
    )
    assert ts.files == ["test_a.py", "test_b.py"]
    assert ts.pip == ["numpy"]
    dropped = [n.what for n in ts.notes if n.status == "not translated"]
    assert dropped == ["python3 /tests/check_extra.py", "--with numpy"]
    assert not testsh.parse("echo hi\n").files


def test_run_steps_split_outside_quotes_only() -> None:
    step = "RUN python3 -c \"import ast; ast.parse('x = 1')\" && apt-get install -y jq\n"
    tr = dockerfile.translate("FROM a\n" + step)
    assert tr.packages == ["jq"]
    assert tr.steps[1] == "RUN python3 -c \"import ast; ast.parse('x = 1')\"\n"


def test_defined_tests_and_junit_outcomes() -> None:
    src = ("def test_a(): pass\ndef helper(): pass\n"
           "class TestX:\n    def test_b(self): pass\n    def other(self): pass\n")
    assert defined_tests(src) == ["test_a", "TestX::test_b"]
    xml = b"""<testsuites><testsuite tests="4">
      <testcase classname="test_m" name="test_a[1]"/><testcase classname="test_m" name="test_a[2]"><skipped/></testcase>
      <testcase classname="test_m.TestX" name="test_b"><failure/></testcase>
      <testcase classname="sub.test_n" name="test_c"/></testsuite></testsuites>"""
    assert _results(xml) == {"test_m::test_a": ["passed", "skipped"], "test_m::TestX::test_b": ["failure"],
                             "test_n::test_c": ["passed"]}


def test_memory_sizes() -> None:
    assert Environment(memory="2G").memory_in_mb() == 2048
    assert Environment(memory="512M").memory_in_mb() == 512
    assert Environment(memory_mb=300, memory="2G").memory_in_mb() == 300
    assert Environment(memory="lots").memory_in_mb() is None


@given(st.recursive(st.none().map(lambda _: "x") | st.text() | st.integers() | st.booleans()
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(min_size=1), kids, max_size=3),
                    max_leaves=8))
def test_toml_values_round_trip(value: object) -> None:
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


@pytest.mark.parametrize("name", NAMES)
def test_fixtures_import_into_valid_tasks(name: str, tmp_path: Path) -> None:
    res = import_task(FIXTURES / name, tmp_path)
    task = load_task(tmp_path / res.task)
    spec = task.spec
    harbor = [c for c in spec.checks if isinstance(c, HarborTests)]
    assert harbor and all(o.checks for o in spec.goal.objectives)
    assert spec.instruction == (FIXTURES / name / "instruction.md").read_text()
    assert isinstance(spec.image, ImageSpec) and spec.image.recipe == "environment"
    assert spec.solution.script is not None
    # every test file test.sh runs is one check and one objective
    assert len({f for c in harbor for f in c.files}) == len(harbor)
    assert plan(task).tag.startswith(f"groundtruth/task-{name}:")
    for n in res.dropped:
        assert n.reason, n


def test_fixture_specifics(tmp_path: Path) -> None:
    hexsig = load_task(tmp_path / import_task(FIXTURES / "hex-signature", tmp_path).task).spec
    assert isinstance(hexsig.image, ImageSpec) and hexsig.image.packages == ["xxd", "jq"]
    assert hexsig.workdir == "/srv/firmware" and hexsig.sandbox.agent_user == "root"
    assert "/tests" in hexsig.protected and "/usr/lib/python3/dist-packages/_pytest" in hexsig.protected
    assert hexsig.sandbox.memory_mb == 1024
    inv = load_task(tmp_path / import_task(FIXTURES / "inventory-config", tmp_path).task).spec
    assert [c.files for c in inv.checks if isinstance(c, HarborTests)] == [["test_server.py"], ["test_untouched.py"]]
    assert any(c.id == "inventory-closed-world" for c in inv.checks)
    # groundtruth.toml `collateral`: tests that pass before the agent acts guard, they are not a goal
    assert [c.kind for c in inv.checks if isinstance(c, HarborTests)] == ["goal", "collateral"]
    assert [o.id for o in inv.goal.objectives] == ["server"]
    med = load_task(tmp_path / import_task(FIXTURES / "fix-median", tmp_path).task)
    assert med.spec.sandbox.agent_user == "agent" and med.spec.protected == []
    assert "chown -R agent:agent /app" in (med.folder / "environment" / "Dockerfile").read_text()


def test_content_hash_tags_follow_the_recipe(tmp_path: Path) -> None:
    task = load_task(tmp_path / import_task(FIXTURES / "csv-report", tmp_path).task)
    before = plan(task).tag
    assert plan(load_task(task.folder)).tag == before
    (task.folder / "environment" / "sales.csv").write_text("region,amount\nnorth,1\n")
    assert plan(load_task(task.folder)).tag != before


def test_solution_folder_is_uploaded_to_slash_solution(tmp_path: Path) -> None:
    src = tmp_path / "src" / "multi-file"
    shutil.copytree(FIXTURES / "csv-report", src)
    (src / "solution" / "helper.py").write_text("print('hi')\n")
    res = import_task(src, tmp_path / "out")
    task = load_task(Path(res.folder))
    assert task.spec.solution.script == "solution/reference.sh"
    ref = (task.folder / "solution" / "reference.sh").read_text()
    assert "/solution/helper.py" in ref and ref.rstrip().endswith("bash /solution/solve.sh")


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(HarborImportError, match=r"no instruction\.md"):
        src = tmp_path / "broken"
        shutil.copytree(FIXTURES / "csv-report", src)
        (src / "instruction.md").unlink()
        import_task(src, tmp_path / "out")
    import_task(FIXTURES / "csv-report", tmp_path / "out")
    with pytest.raises(HarborImportError, match="already exists"):
        import_task(FIXTURES / "csv-report", tmp_path / "out")
    runner = CliRunner()
    res = runner.invoke(app, ["tasks", "import", "harbor", str(tmp_path / "nope"), "--into", str(tmp_path / "o")])
    assert res.exit_code == 1 and "Traceback" not in res.output and "no task.toml" in res.output


def test_cli_import_json(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["tasks", "import", "harbor", *(str(FIXTURES / n) for n in NAMES),
                              "--into", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["task"] for r in rows] == NAMES
    inv = next(r for r in rows if r["task"] == "inventory-config")
    assert {n["what"].split()[0] for n in inv["notes"] if n["status"] == "not translated"} == {"EXPOSE", "CMD"}
    res = runner.invoke(app, ["tasks", "import", "harbor", "--help"])
    assert "Example" in res.output


def test_overlay_collateral_must_name_test_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "inventory-config", src)
    (src / "groundtruth.toml").write_text('collateral = ["test_nothere.py"]\n')
    with pytest.raises(HarborImportError, match="not test files in tests/"):
        import_task(src, tmp_path / "out")
