import pytest

from loadgen.cli import build_parser, main

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], *[[c, "--help"] for c in COMMANDS]])
def test_every_help_text_renders(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: loadgen")
    if argv[0].startswith("-"):
        assert "% change" in out  # the compare command's help, with its percent sign
