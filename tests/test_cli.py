"""The reader's toolkit: python -m avc chapters / run."""

import subprocess
import sys

import nbformat
import pytest

from avc.chapter import params as chapter_params
from avc.cli import chapters as cli


def test_chapters_and_parameters_are_listed():
    names = list(chapter_params.chapters())
    assert "b_model" in names and "intro" in names
    params = chapter_params.chapter_parameters("b_model")
    assert params["max_agents"]["default"] == 40 and params["max_agents"]["type"] == "int"
    assert "most noisy agents" in params["max_agents"]["help"]


def test_parameters_may_span_lines_and_keep_their_comments():
    source = (
        "packages = [  # packages whose versions are listed\n"
        '    "numpy", "scipy",  # the numerical core\n'
        "]\n"
        'label = "a # not a comment"  # the label\n'
        "n = 3\n"
        "rng = make_rng(0)  # not a literal: papermill cannot set it\n"
        "x, y = 1, 2  # two names at once: left out\n"
    )
    assert chapter_params.parse_parameters(source) == {
        "packages": {
            "default": ["numpy", "scipy"],
            "type": "list",
            "help": "packages whose versions are listed the numerical core",
        },
        "label": {"default": "a # not a comment", "type": "str", "help": "the label"},
        "n": {"default": 3, "type": "int", "help": ""},
    }


def test_every_chapter_parameter_is_found():
    """Each assignment in a parameters cell is a parameter the reader can set (none is lost
    by the parser, whatever its layout)."""
    import ast

    for name, path in chapter_params.chapters().items():
        notebook = nbformat.read(path, as_version=4)
        cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        assigned = {
            t.id
            for node in ast.parse(cell.source).body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        assert set(chapter_params.chapter_parameters(name)) == assigned, name


@pytest.mark.parametrize(
    "text, default, expected",
    [
        ("200", 40, 200),
        ("0.5", 0.3, 0.5),
        ("2", 0.3, 2.0),
        ("True", False, True),
        ("'ethics'", "x", "ethics"),
        ("ethics", "x", "ethics"),
        ("[1, 2]", [3], [1, 2]),
        ("None", 5, None),
        ("42", None, 42),
    ],
)
def test_values_are_parsed_to_the_default_type(text, default, expected):
    assert chapter_params.parse_value(text, default) == expected


@pytest.mark.parametrize("text, default", [("abc", 40), ("1.5", 40), ("1", True), ("[1]", 0.5)])
def test_values_of_the_wrong_type_are_refused(text, default):
    with pytest.raises(chapter_params.ParameterError, match="expected a value of type"):
        chapter_params.parse_value(text, default)


def test_unknown_parameter_or_chapter_is_refused_with_the_valid_names():
    with pytest.raises(
        chapter_params.ParameterError,
        match=r"no parameter bogus; its parameters are: .*max_agents \(default 40\)",
    ):
        cli.run_chapter("b_model", {"bogus": "1"})
    with pytest.raises(chapter_params.ParameterError, match="no chapter named 'nope'.*b_model"):
        cli.run_chapter("nope", {})
    with pytest.raises(
        chapter_params.ParameterError, match="parameter max_agents: expected a value of type int"
    ):
        cli.run_chapter("b_model", {"max_agents": "many"})


def test_command_line_refuses_with_exit_code_2():
    result = subprocess.run(
        [sys.executable, "-m", "avc", "run", "b_model", "-p", "bogus", "1"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "its parameters are" in result.stderr


@pytest.mark.heavy
def test_run_executes_a_chapter_with_a_changed_parameter():
    output = cli.run_chapter("intro", {"n_companies": "4"}, progress=False)
    assert output.name == "intro__n_companies-4.ipynb" and output.parent.name == "runs"
    executed = nbformat.read(output, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "n_companies = 4" in injected[0].source
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "error of each company alone: [0.1 0.1 0.1 0.1]" in printed


@pytest.mark.parametrize("value", [0, 2.5, "3", True, None])
def test_check_at_least_refuses_with_the_name_the_minimum_and_the_reason(value):
    with pytest.raises(
        chapter_params.ParameterError,
        match=r"n_user_folds must be an integer of at least 2 \(two folds\); got",
    ):
        chapter_params.check_at_least("n_user_folds", value, 2, "two folds")
    assert chapter_params.check_at_least("n_user_folds", 2, 2) == 2


@pytest.mark.parametrize("values", [[], [0], [5, -1], [2.5], "5", 5, [True]])
def test_check_counts_refuses_anything_but_a_list_of_positive_integers(values):
    with pytest.raises(
        chapter_params.ParameterError, match="agent_counts must be a non-empty list of positive integers"
    ):
        chapter_params.check_counts("agent_counts", values)
    assert chapter_params.check_counts("agent_counts", (5, 100)) == [5, 100]


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.2, "0.1", True, float("nan")])
def test_check_number_refuses_outside_the_range_and_names_it(value):
    with pytest.raises(
        chapter_params.ParameterError,
        match=r"delta must be a finite number above 0 and below 1 \(a probability\); got",
    ):
        chapter_params.check_number("delta", value, above=0, below=1, reason="a probability")
    assert chapter_params.check_number("delta", 0.05, above=0, below=1) == 0.05
    assert chapter_params.check_number("max_noise", 0, at_least=0) == 0.0


def test_tuples_are_read_as_lists_and_distinct_values_get_distinct_files():
    from avc.cli.chapters import output_path

    default = [[2, 2, 0.2]]
    assert chapter_params.parse_value("[(2, 2, 0.2)]", default) == [[2, 2, 0.2]]
    assert chapter_params.parse_value("[[2, 2, 0.2]]", default) == [[2, 2, 0.2]]
    paths = {
        output_path("h_noisy_agents", {"settings": [[2, 2, 0.2]]}),
        output_path("h_noisy_agents", {"settings": [[2, 2, 0.25]]}),
        output_path("h_noisy_agents", {"settings": [[22, 0.2]]}),
        output_path("b_model", {"seed": 1}),
        output_path("b_model", {}),
    }
    assert len(paths) == 5
    assert output_path("b_model", {"seed": 1}).name == "b_model__seed-1.ipynb"
