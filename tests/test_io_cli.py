"""Sequence-loading errors as the command line shows them: one line naming the file, exit 2.

No ``mvcodec`` command loads a sequence yet (encode/synth are being written), so these tests
put ``ctc.sequence.load_sequence`` behind a throw-away command on a fresh group of the same
class as ``mvcodec`` (:class:`mvhinerv.cli.group.MvcodecGroup`), which is what turns
:class:`ctc.errors.InputError` into the one-line message and exit status 2.
"""

from __future__ import annotations

import json

import click
import numpy as np
import pytest
from click.testing import CliRunner

from ctc.camera import Camera
from ctc.sequence import Sequence, load_sequence, write_sequence
from mvhinerv.cli.group import MvcodecGroup


@click.group(cls=MvcodecGroup)
def _group() -> None:
    """A stand-in for ``mvcodec``."""


@_group.command("load")
@click.argument("seq")
@click.option("--view", default=None)
def _load(seq: str, view: str | None) -> None:
    mvv = load_sequence(seq)
    if view is not None:
        mvv.texture_yuv(view, 0, mvv.num_frames + 1)  # past the end on purpose
    click.echo(f"{len(mvv.views)} views, {mvv.num_frames} frames")


def _run(args):
    return CliRunner().invoke(_group, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def seq_dir(tmp_path):
    cams = tuple(
        Camera(name=f"v{i}", projection="Perspective", resolution=(4, 2), focal=(2.0, 2.0),
               principal_point=(2.0, 1.0), depth_range=(1.0, 5.0))
        for i in range(2)
    )
    seq = Sequence(version="4.0", content_name="Cli", fps=30.0, frames_number=2, cameras=cams,
                   source_camera_names=("v0", "v1"))
    textures = {v: (np.full((2, 2, 4), 512, np.uint16), np.full((2, 1, 2), 512, np.uint16),
                    np.full((2, 1, 2), 512, np.uint16)) for v in ("v0", "v1")}
    depths = {v: np.zeros((2, 2, 4), np.uint16) for v in ("v0", "v1")}
    return write_sequence(tmp_path / "seq", seq, textures, depths).parent


def _assert_one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvcodec: error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert str(needle) in lines[0]


def test_good_sequence_loads(seq_dir):
    result = _run(["load", seq_dir / "seq.yaml"])
    assert result.exit_code == 0 and "2 views, 2 frames" in result.output


def test_missing_file(seq_dir):
    (seq_dir / "v1_texture_4x2_yuv420p10le.yuv").unlink()
    _assert_one_line_error(_run(["load", seq_dir]), "v1_texture_4x2_yuv420p10le.yuv", "no such file")


def test_size_not_whole_frames(seq_dir):
    with (seq_dir / "v0_depth_4x2_yuv420p16le.yuv").open("ab") as f:
        f.write(b"\0")
    _assert_one_line_error(_run(["load", seq_dir]), "v0_depth_4x2_yuv420p16le.yuv", "not a whole number")


def test_frame_range_past_end(seq_dir):
    _assert_one_line_error(_run(["load", seq_dir, "--view", "v0"]), "v0_texture_4x2_yuv420p10le.yuv",
                           "requested but the sequence has 2 frames")


def test_malformed_json(seq_dir):
    (seq_dir / "sequence.json").write_text('{"Version": "4.0",\n  "Fps": }\n')
    _assert_one_line_error(_run(["load", seq_dir]), "sequence.json", "malformed JSON at line 2")


def test_unknown_projection(seq_dir):
    data = json.loads((seq_dir / "sequence.json").read_text())
    data["cameras"][1]["Projection"] = "Orthographic"
    (seq_dir / "sequence.json").write_text(json.dumps(data))
    _assert_one_line_error(_run(["load", seq_dir]), "sequence.json", "unsupported projection")


def test_malformed_and_unknown_yaml(seq_dir):
    (seq_dir / "seq.yaml").write_text("json: sequence.json\nviews: [v0\n")
    _assert_one_line_error(_run(["load", seq_dir / "seq.yaml"]), "seq.yaml", "malformed YAML")
    (seq_dir / "seq.yaml").write_text("json: sequence.json\nfps: 30\n")
    _assert_one_line_error(_run(["load", seq_dir / "seq.yaml"]), "seq.yaml", "unknown key 'fps'")


def test_unknown_camera_name(seq_dir):
    (seq_dir / "seq.yaml").write_text("json: sequence.json\nviews: [v0, v8]\n")
    _assert_one_line_error(_run(["load", seq_dir]), "seq.yaml", "no camera named 'v8'")
