"""Tests of ctc.posetrace: CSV round trip, bad inputs, pose → camera, mirrored frame indexing."""

from __future__ import annotations

import numpy as np
import pytest

from ctc.camera import Camera
from ctc.errors import FormatError, InputError, MissingFileError
from ctc.posetrace import (
    mirrored_frame_index,
    pose_camera,
    pose_cameras,
    pose_trace_frames,
    read_pose_trace,
    write_pose_trace,
)

HEADER = "X,Y,Z,Yaw,Pitch,Roll"

# The W01 viewport camera (miv_ctc.md §1.5): perspective, position (3.0353, -4.3637, 2.5).
W01_VIEWPORT = Camera(name="viewport", projection="Perspective", resolution=(1920, 1080),
                      position=(3.0353, -4.3637, 2.5), rotation=(10.0, 20.0, 0.0),
                      depth_range=(0.3, 1000.0), focal=(1346.3, 1346.3),
                      principal_point=(960.0, 540.0))


def write(tmp_path, text: str, name: str = "trace.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- reading

def test_read_hand_written_trace(tmp_path):
    path = write(tmp_path, f"{HEADER}\n3.019,3.861,-0.100,-30.5,10,0\n1,2,3,4,5,6\n\n\n")
    poses = read_pose_trace(path)
    assert poses.dtype == np.float64 and poses.shape == (2, 6)
    assert poses[0].tolist() == [3.019, 3.861, -0.1, -30.5, 10.0, 0.0]


def test_read_accepts_whitespace_crlf_and_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf  X, Y ,Z,Yaw,Pitch,Roll \r\n 1 , 2,3,4,5,6\r\n")
    assert read_pose_trace(path).tolist() == [[1, 2, 3, 4, 5, 6]]


def test_write_read_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(300, 6)) * [3, 3, 1, 90, 30, 5]
    poses[0] = [3.019, 3.861, -0.1, 0.0, -0.0, 1e-7]
    path = tmp_path / "sub" / "W01p01.csv"
    write_pose_trace(path, poses)
    text = path.read_text()
    assert text.startswith(HEADER + "\n")
    assert text.splitlines()[1] == "3.019,3.861,-0.1,0,-0,0.0000001"
    assert "e" not in text.lower().replace("yaw", "").replace("pitch", "").replace("roll", "")
    back = read_pose_trace(path)
    assert np.array_equal(back, poses)
    assert not list(path.parent.glob("*.part"))


@pytest.mark.parametrize("content, message", [
    ("", "line 1: header must be X,Y,Z,Yaw,Pitch,Roll, found 'an empty file'"),
    ("x,y,z,yaw,pitch,roll\n1,2,3,4,5,6\n", "line 1: header must be"),
    ("X,Y,Z,Yaw,Pitch\n1,2,3,4,5\n", "line 1: header must be"),
    ("\nX,Y,Z,Yaw,Pitch,Roll\n1,2,3,4,5,6\n", "line 1: header must be"),
    (f"{HEADER}\n", "no pose rows after the header"),
    (f"{HEADER}\n\n1,2,3,4,5,6\n", "line 3: pose row after the empty line 2"),
    (f"{HEADER}\n1,2,3,4,5,6\n1,2,3,4,5\n", "line 3: expected 6 values, found 5"),
    (f"{HEADER}\n1,2,3,4,5,6,7\n", "line 2: expected 6 values, found 7"),
    (f"{HEADER}\n1,2,3,abc,5,6\n", "line 2: Yaw is not a number: 'abc'"),
    (f"{HEADER}\n1,2,,4,5,6\n", "line 2: Z is not a number: ''"),
    (f"{HEADER}\n1,2,3,4,5,nan\n", "line 2: Roll is not finite: 'nan'"),
    (f"{HEADER}\n1,inf,3,4,5,6\n", "line 2: Y is not finite"),
])
def test_read_bad_inputs(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(FormatError) as info:
        read_pose_trace(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text
    assert "\n" not in text


def test_read_missing_file_directory_and_binary(tmp_path):
    with pytest.raises(MissingFileError, match="nope.csv: pose trace not found"):
        read_pose_trace(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="not a file"):
        read_pose_trace(tmp_path)
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00X")
    with pytest.raises(FormatError, match="bin.csv: not UTF-8 text"):
        read_pose_trace(path)


def test_write_bad_inputs_leave_no_file(tmp_path):
    path = tmp_path / "out.csv"
    for poses, message in [(np.zeros((3, 5)), r"shape \(N>=1, 6\)"), (np.zeros((0, 6)), "shape"),
                           (np.zeros(6), "shape"), (np.full((2, 6), np.nan), "NaN or infinite")]:
        with pytest.raises(InputError, match=message):
            write_pose_trace(path, poses)
    assert list(tmp_path.iterdir()) == []


def test_cli_group_reports_pose_trace_errors_in_one_line(tmp_path):
    """The CLI turns these errors into one line and exit status 2 (checked through the group)."""
    import click
    from click.testing import CliRunner

    from mvhinerv.cli.group import main

    @main.command("test-read-pose-trace", hidden=True)
    @click.argument("path")
    def _read(path: str) -> None:
        read_pose_trace(path)

    try:
        result = CliRunner().invoke(main, ["test-read-pose-trace", str(tmp_path / "x.csv")])
    finally:
        main.commands.pop("test-read-pose-trace", None)
    assert result.exit_code == 2
    assert "x.csv: pose trace not found" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------- poses → cameras

def test_pose_camera_w01_example():
    """miv_ctc.md §1.5: viewport (3.0353, -4.3637, 2.5) + first W01p01 row (3.019, 3.861, -0.100)
    is (6.05, -0.50, 2.40), next to v00 at (6.0, -0.5, 2.5)."""
    cam = pose_camera(W01_VIEWPORT, [3.019, 3.861, -0.100, -5.0, 12.5, 1.0])
    assert [round(c, 2) for c in cam.position] == [6.05, -0.50, 2.40]
    np.testing.assert_allclose(cam.position, (6.0543, -0.5027, 2.4), atol=1e-12)
    assert cam.rotation == (-5.0, 12.5, 1.0)  # absolute: replaces the viewport's (10, 20, 0)
    assert cam.name == "viewport"
    for field in ("projection", "resolution", "focal", "principal_point", "depth_range"):
        assert getattr(cam, field) == getattr(W01_VIEWPORT, field)
    assert all(isinstance(c, float) for c in cam.position + cam.rotation)


def test_pose_cameras_names_and_bad_row():
    poses = np.array([[0, 0, 0, 0, 0, 0], [1, 0, 0, 90, 0, 0]], dtype=np.float64)
    cams = pose_cameras(W01_VIEWPORT, poses)
    assert [c.name for c in cams] == ["viewport@0", "viewport@1"]
    assert cams[0].position == W01_VIEWPORT.position and cams[1].rotation == (90.0, 0.0, 0.0)
    assert pose_camera(W01_VIEWPORT, poses[1], name="p01").name == "p01"
    with pytest.raises(ValueError, match="6 values"):
        pose_camera(W01_VIEWPORT, [1, 2, 3])


# ---------------------------------------------------------------------------- frame indexing

def test_mirrored_frame_index_hand_values():
    # n = 3: forwards, backwards (end frame repeated), forwards again.
    assert pose_trace_frames(10, 3) == [0, 1, 2, 2, 1, 0, 0, 1, 2, 2]
    assert pose_trace_frames(4, 1) == [0, 0, 0, 0]
    assert pose_trace_frames(0, 5) == []
    # The CTC case: 300 output frames from 65 decoded frames.
    frames = pose_trace_frames(300, 65)
    assert frames[:65] == list(range(65))
    assert frames[65:130] == list(range(64, -1, -1))
    assert frames[130] == 0 and frames[194] == 64 and frames[195] == 64 and frames[299] == 39
    assert max(frames) == 64 and min(frames) == 0
    assert mirrored_frame_index(299, 65) == frames[299]


def test_mirrored_frame_index_bad_values():
    with pytest.raises(InputError, match="num_source_frames: must be at least 1, got 0"):
        mirrored_frame_index(0, 0)
    with pytest.raises(ValueError, match=">= 0"):
        mirrored_frame_index(-1, 5)
    with pytest.raises(InputError, match="num_output_frames"):
        pose_trace_frames(-1, 5)
