"""ctc.sequence: TMIV JSON (2.x / 4.x), seq.yaml, MultiViewVideo and write_sequence."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ctc.camera import Camera
from ctc.color import requantize, yuv420_to_rgb
from ctc.errors import FormatError, InputError, MissingFileError
from ctc.sequence import (
    DEFAULT_DEPTH_PATTERN,
    DEFAULT_TEXTURE_PATTERN,
    SeqSpec,
    Sequence,
    load_sequence,
    parse_sequence_json,
    read_seq_yaml,
    read_sequence_json,
    write_seq_yaml,
    write_sequence,
    write_sequence_json,
)
from ctc.yuv import YuvReader, parse_pix_fmt, write_yuv

# A TMIV 8 era file (Version 2.0): no sourceCameraNames, so the v[0-9]+ rule picks the sources.
TMIV2_JSON = """{
    "Version": "2.0",
    "Content_name": "Painterish",
    "BoundingBox_center": [2.5, 0, 0],
    "Fps": 30,
    "Frames_number": 300,
    "lengthsInMeters": true,
    "Informative": {"Cameras_number": 3, "Document": "m0000"},
    "cameras": [
        {"Name": "v0", "Position": [0, -0.1, 0], "Rotation": [0, 0, 0], "Depth_range": [1.7, 5.4],
         "Resolution": [8, 6], "Projection": "Perspective", "Focal": [2410.3, 2410.3],
         "Principle_point": [4.1, 3.2], "BitDepthColor": 10, "BitDepthDepth": 16,
         "ColorSpace": "YUV420", "DepthColorSpace": "YUV420", "Depthmap": 1, "Background": 0},
        {"Name": "v1x", "Position": [0, 0, 0], "Rotation": [0, 0, 0], "Depth_range": [1.7, 5.4],
         "Resolution": [8, 6], "Projection": "Perspective", "Focal": [2410.3, 2410.3],
         "Principle_point": [4.1, 3.2]},
        {"Name": "v2", "Position": [0, 0.1, 0], "Rotation": [0, 0, 0], "Depth_range": [1.7, 5.4],
         "Resolution": [8, 6], "Projection": "Perspective", "Focal": [2410.3, 2410.3],
         "Principle_point": [4.1, 3.2], "HasInvalidDepth": false},
        {"Name": "viewport", "Position": [0, 0, 0], "Rotation": [0, 0, 0], "Depth_range": [1.7, 5.4],
         "Resolution": [16, 12], "Projection": "Perspective", "Focal": [2711.28, 2711.28],
         "Principle_point": [8, 6]},
        {"Name": "center", "Position": [0, 0, 0], "Rotation": [0, 0, 0], "Depth_range": [1.7, 5.4],
         "Resolution": [16, 8], "Projection": "Equirectangular", "Hor_range": [-180, 180],
         "Ver_range": [-90, 90]}
    ]
}"""

# A TMIV 19 file (Version 4.0): explicit source order, ERP, far = "inf".
TMIV4_JSON = """{
    "Version": "4.0",
    "Content_name": "Classroomish",
    "BoundingBox_center": [0, 0, 0],
    "Fps": 30,
    "Frames_number": 120,
    "lengthsInMeters": true,
    "sourceCameraNames": ["v2", "v0"],
    "sourceCameraIds": [2, 0],
    "frameRanges": [{"startFrame": 23, "maxNumberOfFrames": 97}],
    "cameras": [
        {"Name": "v0", "Position": [0, 0, 0], "Rotation": [0, 0, 0], "Depth_range": [0.8, "inf"],
         "Resolution": [8, 4], "Projection": "Equirectangular", "Hor_range": [-180, 180],
         "Ver_range": [-90, 90], "BitDepthColor": 10, "BitDepthDepth": 16, "HasInvalidDepth": true},
        {"Name": "v1", "Position": [0.1, 0, 0], "Rotation": [90, 0, 0], "Depth_range": [0.8, "Inf"],
         "Resolution": [8, 4], "Projection": "Equirectangular", "Hor_range": [-90, 90],
         "Ver_range": [-45, 45]},
        {"Name": "v2", "Position": [0, 0.1, 0.05], "Rotation": [0, 12.5, -3], "Depth_range": [0.8, Infinity],
         "Resolution": [8, 4], "Projection": "Equirectangular", "Hor_range": [-180, 180],
         "Ver_range": [-90, 90]},
        {"Name": "viewport", "Position": [0, 0, 0], "Rotation": [0, 0, 0], "Depth_range": [0.8, "inf"],
         "Resolution": [16, 8], "Projection": "Perspective", "Focal": [960, 960],
         "Principle_point": [8, 4]}
    ]
}"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _one_line_naming(err: pytest.ExceptionInfo, path: Path | str) -> str:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# ---------------------------------------------------------------------------------- JSON


def test_read_tmiv2_json_uses_v_rule(tmp_path):
    seq = read_sequence_json(_write(tmp_path / "a.json", TMIV2_JSON))
    assert seq.version == "2.0" and seq.content_name == "Painterish"
    assert seq.fps == 30 and seq.frames_number == 300
    assert seq.bounding_box_center == (2.5, 0.0, 0.0)
    assert seq.source_camera_names == ("v0", "v2")  # "v1x" is not a full v[0-9]+ match
    assert [c.name for c in seq.held_out_cameras] == ["v1x"]
    assert seq.viewport is not None and seq.viewport.resolution == (16, 12)
    v0 = seq.camera("v0")
    assert v0.projection == "Perspective" and v0.focal == (2410.3, 2410.3)
    assert v0.principal_point == (4.1, 3.2) and v0.depth_range == (1.7, 5.4)
    assert v0.extra == {"Depthmap": 1, "Background": 0}  # "YUV420" is the default, not extra
    center = seq.camera("center")
    assert center.is_erp and center.ver_range == (-90.0, 90.0)
    assert seq.extra == {"Informative": {"Cameras_number": 3, "Document": "m0000"}}
    assert [c.name for c in seq.source_cameras] == ["v0", "v2"]


def test_read_tmiv4_json_with_inf(tmp_path):
    seq = read_sequence_json(_write(tmp_path / "b.json", TMIV4_JSON))
    assert seq.version == "4.0"
    assert seq.source_camera_names == ("v2", "v0")  # file's order, not camera order
    assert all(math.isinf(c.depth_range[1]) for c in seq.cameras)  # "inf", "Inf", Infinity
    v1 = seq.camera("v1")
    assert v1.hor_range == (-90.0, 90.0) and v1.rotation == (90.0, 0.0, 0.0)
    assert seq.camera("v0").has_invalid_depth
    assert seq.camera("v0").disparity_range == (0.0, 1.25)
    assert seq.extra["frameRanges"] == [{"startFrame": 23, "maxNumberOfFrames": 97}]
    assert [c.name for c in seq.held_out_cameras] == ["v1"]


@pytest.mark.parametrize("text", [TMIV2_JSON, TMIV4_JSON])
def test_json_round_trip_is_identity(tmp_path, text):
    first = read_sequence_json(_write(tmp_path / "in.json", text))
    write_sequence_json(first, tmp_path / "out.json")
    second = read_sequence_json(tmp_path / "out.json")
    assert second == first
    assert second.to_dict() == first.to_dict()  # camera extras included
    assert [c.extra for c in second.cameras] == [c.extra for c in first.cameras]
    written = json.loads((tmp_path / "out.json").read_text())
    # writing again gives the same bytes
    write_sequence_json(second, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "out.json").read_text()
    cam = written["cameras"][0]
    for key in ("Name", "Position", "Rotation", "Depth_range", "Resolution", "Projection",
                "BitDepthColor", "BitDepthDepth", "HasInvalidDepth"):
        assert key in cam
    assert cam["ColorSpace"] == "YUV420" and cam["DepthColorSpace"] == "YUV420"


def test_written_json_spelling(tmp_path):
    seq = read_sequence_json(_write(tmp_path / "b.json", TMIV4_JSON))
    write_sequence_json(seq, tmp_path / "out.json")
    text = (tmp_path / "out.json").read_text()
    assert '"Depth_range": [0.8, "inf"]' in text
    assert '"Hor_range": [-180.0, 180.0]' in text and '"Ver_range"' in text
    viewport = json.loads(text)["cameras"][-1]
    assert viewport["Principle_point"] == [8.0, 4.0] and viewport["Focal"] == [960.0, 960.0]
    assert "Hor_range" not in viewport
    assert json.loads(text)["sourceCameraNames"] == ["v2", "v0"]


def test_sequence_constructor_takes_lists_and_checks_names():
    cams = _cameras(2)
    seq = Sequence(version="4.0", content_name="L", fps=30, frames_number=1, cameras=cams,
                   source_camera_names=["v0"], bounding_box_center=[0, 0, 0])
    assert seq.cameras == tuple(cams) and seq.source_camera_names == ("v0",)
    with pytest.raises(InputError, match="source views \\['v5'\\] are not cameras"):
        Sequence(version="4.0", content_name="L", fps=30, frames_number=1, cameras=cams,
                 source_camera_names=["v5"])
    with pytest.raises(InputError, match="duplicate camera names"):
        Sequence(version="4.0", content_name="L", fps=30, frames_number=1,
                 cameras=[cams[0], cams[0]], source_camera_names=[])


def test_sequence_camera_unknown_name(tmp_path):
    seq = read_sequence_json(_write(tmp_path / "a.json", TMIV2_JSON))
    with pytest.raises(InputError, match="no camera named 'v9'.*v0, v1x, v2, viewport, center"):
        seq.camera("v9")


def _mutated(**changes) -> str:
    data = json.loads(TMIV4_JSON.replace("Infinity", '"inf"'))
    for key, value in changes.items():
        if key.startswith("cam0_"):
            field = key[5:]
            if value is None:
                del data["cameras"][0][field]
            else:
                data["cameras"][0][field] = value
        elif value is None:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"cam0_Projection": "Orthographic"}, "camera 'v0': unsupported projection 'Orthographic'"),
        ({"cam0_Projection": "Cubemap"}, "camera 'v0': unknown projection 'Cubemap'"),
        ({"cam0_Depth_range": [2.0, 1.0]}, "0 < near < far"),
        ({"cam0_Depth_range": [0.5, "far"]}, "Depth_range far must be a finite number"),
        ({"cam0_Resolution": [8]}, "Resolution must be"),
        ({"cam0_Resolution": [8, 0]}, "Resolution must be >= 1"),
        ({"cam0_Position": [0, 0]}, "Position must be a list of 3 numbers"),
        ({"cam0_Name": None}, "cameras\\[0\\] has no Name"),
        ({"cam0_BitDepthDepth": 20}, "BitDepthDepth must be in 1..16"),
        ({"Version": "5.0"}, "unsupported Version '5.0'"),
        ({"Version": None}, "missing required key 'Version'"),
        ({"cameras": []}, "cameras must be a non-empty list"),
        ({"sourceCameraNames": ["v0", "v7"]}, "source views \\['v7'\\] are not cameras"),
        ({"Frames_number": 2.5}, "Frames_number must be an integer"),
    ],
)
def test_bad_json_content(tmp_path, changes, problem):
    path = _write(tmp_path / "bad.json", _mutated(**changes))
    with pytest.raises(FormatError, match=problem) as err:
        read_sequence_json(path)
    _one_line_naming(err, path)


def test_perspective_without_focal(tmp_path):
    data = json.loads(TMIV2_JSON)
    del data["cameras"][2]["Focal"]
    path = _write(tmp_path / "p.json", json.dumps(data))
    with pytest.raises(FormatError, match="camera 'v2': perspective camera without Focal"):
        read_sequence_json(path)


def test_duplicate_camera_names(tmp_path):
    data = json.loads(TMIV2_JSON)
    data["cameras"][1]["Name"] = "v0"
    path = _write(tmp_path / "d.json", json.dumps(data))
    with pytest.raises(FormatError, match="duplicate camera names \\['v0'\\]") as err:
        read_sequence_json(path)
    _one_line_naming(err, path)


def test_malformed_json_names_file_and_line(tmp_path):
    text = TMIV2_JSON.replace('"Fps": 30,', '"Fps": 30')  # missing comma on line 5
    path = _write(tmp_path / "m.json", text)
    with pytest.raises(FormatError, match="malformed JSON at line 6, column 5") as err:
        read_sequence_json(path)
    _one_line_naming(err, path)
    with pytest.raises(FormatError, match="top level must be a JSON object"):
        read_sequence_json(_write(tmp_path / "list.json", "[1, 2]"))
    with pytest.raises(FormatError, match="not UTF-8"):
        (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00{")
        read_sequence_json(tmp_path / "bin.json")


def test_missing_json(tmp_path):
    with pytest.raises(MissingFileError) as err:
        read_sequence_json(tmp_path / "none.json")
    _one_line_naming(err, tmp_path / "none.json")


def test_parse_sequence_json_text():
    seq = parse_sequence_json(TMIV4_JSON, "<bitstream>")
    assert seq.content_name == "Classroomish"
    with pytest.raises(FormatError, match="<bitstream>: malformed JSON"):
        parse_sequence_json("{", "<bitstream>")


# ---------------------------------------------------------------------------------- seq.yaml


def test_seq_yaml_all_keys(tmp_path):
    path = _write(
        tmp_path / "cfg" / "seq.yaml",
        "json: ../seqs/W01.json\n"
        "content: ../content/W01\n"
        "texture: '{view}_tex_{w}x{h}.yuv'\n"
        "texture_pix_fmt: yuv420p10le\n"
        "depth: '{view}_depth_{w}x{h}_yuv420p10le.yuv'\n"
        "start_frame: 3\n"
        "frames: 2\n"
        "views: [v2, v0]\n",
    )
    spec = read_seq_yaml(path)
    assert spec.json == (tmp_path / "seqs" / "W01.json").resolve()
    assert spec.content == (tmp_path / "content" / "W01").resolve()
    assert spec.texture == "{view}_tex_{w}x{h}.yuv" and spec.texture_pix_fmt.name == "yuv420p10le"
    assert spec.depth_pix_fmt.name == "yuv420p10le"  # from the pattern's suffix
    assert (spec.start_frame, spec.frames, spec.views) == (3, 2, ("v2", "v0"))
    # write and read back: the same spec
    write_seq_yaml(spec, tmp_path / "cfg" / "copy.yaml")
    again = read_seq_yaml(tmp_path / "cfg" / "copy.yaml")
    assert again == spec


def test_seq_yaml_defaults(tmp_path):
    spec = read_seq_yaml(_write(tmp_path / "seq.yaml", "json: a.json\n"))
    assert spec.content == tmp_path.resolve()
    assert spec.texture == DEFAULT_TEXTURE_PATTERN and spec.depth == DEFAULT_DEPTH_PATTERN
    assert spec.texture_pix_fmt.name == "yuv420p10le" and spec.depth_pix_fmt.name == "yuv420p16le"
    assert (spec.start_frame, spec.frames, spec.views) == (0, None, None)
    listed = read_seq_yaml(_write(tmp_path / "s2.yaml", "json: a.json\nviews: 'v0, v3'\n"))
    assert listed.views == ("v0", "v3")
    assert read_seq_yaml(_write(tmp_path / "s3.yaml", "json: a.json\nviews: all\n")).views is None
    assert read_seq_yaml(_write(tmp_path / "s4.yaml", "json: a.json\ndepth: null\n")).depth is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("json: a.json\nframez: 3\n", "unknown key 'framez'"),
        ("content: x\n", "missing 'json'"),
        ("- json\n", "expected a mapping"),
        ("json: a.json\nstart_frame: -1\n", "start_frame must be an integer >= 0"),
        ("json: a.json\nframes: 0\n", "frames must be an integer >= 1"),
        ("json: a.json\nframes: '3'\n", "frames must be an integer"),
        ("json: a.json\ntexture: 'tex_{w}x{h}_yuv420p10le.yuv'\n", "pattern containing {view}"),
        ("json: a.json\ntexture: '{view}_{fps}_yuv420p10le.yuv'\n", "unknown placeholder {fps}"),
        ("json: a.json\ntexture: '{view}.yuv'\n", "cannot tell the pix_fmt"),
        ("json: a.json\ntexture_pix_fmt: yuv420p\n", "contradicts the pattern"),
        ("json: a.json\ndepth_pix_fmt: rgb24\n", "depth_pix_fmt: unknown pix_fmt 'rgb24'"),
        ("json: a.json\nviews: [v0, v0]\n", "views lists a camera twice"),
        ("json: a.json\nviews: 3\n", "views must be 'all' or a list"),
        ("json: [a.json\n", "malformed YAML at line 2"),
        ("json: a.json\n  bad indent: 1\n", "malformed YAML at line 2"),
    ],
)
def test_bad_seq_yaml(tmp_path, text, problem):
    path = _write(tmp_path / "seq.yaml", text)
    with pytest.raises(InputError, match=problem) as err:
        read_seq_yaml(path)
    _one_line_naming(err, path.resolve())


def test_missing_seq_yaml(tmp_path):
    with pytest.raises(MissingFileError):
        read_seq_yaml(tmp_path / "seq.yaml")


# ---------------------------------------------------------------------------------- content


def _cameras(n=3, w=8, h=6, **kw):
    cams = [
        Camera(name=f"v{i}", projection="Perspective", resolution=(w, h), position=(0.0, 0.1 * i, 0.0),
               focal=(5.0, 5.0), principal_point=(w / 2, h / 2), depth_range=(0.5, 10.0), **kw)
        for i in range(n)
    ]
    cams.append(Camera(name="viewport", projection="Perspective", resolution=(2 * w, 2 * h),
                       focal=(10.0, 10.0), principal_point=(w, h), depth_range=(0.5, 10.0)))
    return cams


def _content(names, n=5, w=8, h=6, seed=0):
    rng = np.random.default_rng(seed)
    textures = {
        v: (rng.integers(64, 941, (n, h, w)).astype(np.uint16),
            rng.integers(64, 961, (n, h // 2, w // 2)).astype(np.uint16),
            rng.integers(64, 961, (n, h // 2, w // 2)).astype(np.uint16))
        for v in names
    }
    depths = {v: rng.integers(0, 65536, (n, h, w)).astype(np.uint16) for v in names}
    return textures, depths


@pytest.fixture()
def tiny(tmp_path):
    """A written sequence: source views v0, v1; held-out v2 (files present); viewport."""
    seq = Sequence(version="4.0", content_name="Tiny", fps=25.0, frames_number=99,
                   cameras=tuple(_cameras()), source_camera_names=("v0", "v1"))
    textures, depths = _content(["v0", "v1", "v2"])
    yaml_path = write_sequence(tmp_path / "tiny", seq, textures, depths)
    return yaml_path, seq, textures, depths


def test_write_sequence_files(tiny):
    yaml_path, seq, textures, depths = tiny
    folder = yaml_path.parent
    assert yaml_path.name == "seq.yaml"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["seq.yaml", "sequence.json"]
        + [f"v{i}_texture_8x6_yuv420p10le.yuv" for i in range(3)]
        + [f"v{i}_depth_8x6_yuv420p16le.yuv" for i in range(3)]
    )
    written = read_sequence_json(folder / "sequence.json")
    assert written == seq.replace(frames_number=5)
    # depth file: luma = samples, chroma neutral 32768
    y, u, v = YuvReader(folder / "v1_depth_8x6_yuv420p16le.yuv", 8, 6, "yuv420p16le").read()
    np.testing.assert_array_equal(y, depths["v1"])
    assert (u == 32768).all() and (v == 32768).all()


def test_load_written_sequence(tiny):
    yaml_path, seq, textures, depths = tiny
    mvv = load_sequence(yaml_path)
    assert mvv.views == ["v0", "v1", "v2"]  # the seq.yaml lists the written views
    assert [c.name for c in mvv.cameras] == mvv.views
    assert (mvv.num_frames, mvv.width, mvv.height, mvv.fps, mvv.start_frame) == (5, 8, 6, 25.0, 0)
    assert mvv.sequence.content_name == "Tiny"
    y, u, v = mvv.texture_yuv("v1", 1, 3)
    assert y.dtype == np.uint16 and y.shape == (3, 6, 8) and u.shape == (3, 3, 4)
    np.testing.assert_array_equal(y, textures["v1"][0][1:4])
    np.testing.assert_array_equal(v, textures["v1"][2][1:4])
    np.testing.assert_array_equal(mvv.depth_samples("v0", 0, 5), depths["v0"])
    rgb = mvv.texture_rgb("v1", 1, 3)
    assert rgb.shape == (3, 3, 6, 8) and rgb.dtype == torch.float32
    torch.testing.assert_close(rgb, yuv420_to_rgb(y, u, v, 10))
    level = mvv.depth_level("v0", 2, 1)
    assert level.dtype == torch.float32 and level.shape == (1, 6, 8)
    torch.testing.assert_close(level, torch.from_numpy(depths["v0"][2:3] / 65535.0).float())
    assert mvv.camera("viewport").resolution == (16, 12)
    # views by index, as the training code iterates them
    np.testing.assert_array_equal(mvv.depth_samples(1, 0, 2), depths["v1"][:2])
    torch.testing.assert_close(mvv.texture_rgb(1, 1, 3), rgb)
    assert mvv.camera(2).name == "v2" and mvv.texture_path(0).name.startswith("v0_")
    with pytest.raises(InputError, match="view index 3 outside 0..2"):
        mvv.texture_yuv(3, 0, 1)
    assert mvv.texture_path("v0") == yaml_path.parent.resolve() / "v0_texture_8x6_yuv420p10le.yuv"
    assert mvv.depth_path("v2").name == "v2_depth_8x6_yuv420p16le.yuv"


def test_load_bare_json_and_folder(tiny):
    yaml_path, seq, textures, depths = tiny
    by_json = load_sequence(yaml_path.parent / "sequence.json")
    assert by_json.views == ["v0", "v1"]  # source views of the JSON
    assert by_json.sequence.held_out_cameras[0].name == "v2"
    held = by_json.open_view("v2")  # ground truth of a held-out camera
    np.testing.assert_array_equal(held.texture_yuv(0, 2)[0], textures["v2"][0][:2])
    np.testing.assert_array_equal(held.depth_samples(4, 1), depths["v2"][4:5])
    by_folder = load_sequence(yaml_path.parent)  # finds seq.yaml
    assert by_folder.views == ["v0", "v1", "v2"]


def test_subset_views_and_frames(tiny, tmp_path):
    yaml_path, seq, textures, depths = tiny
    sub = _write(
        tmp_path / "sub.yaml",
        f"json: {yaml_path.parent / 'sequence.json'}\ncontent: {yaml_path.parent}\n"
        "views: [v1]\nstart_frame: 2\nframes: 2\n",
    )
    mvv = load_sequence(sub)
    assert mvv.views == ["v1"] and mvv.num_frames == 2 and mvv.start_frame == 2
    np.testing.assert_array_equal(mvv.texture_yuv("v1")[0], textures["v1"][0][2:4])
    np.testing.assert_array_equal(mvv.depth_samples("v1", 1, 1), depths["v1"][3:4])
    with pytest.raises(InputError, match="frames 1..2 requested but the sequence has 2 frames") as err:
        mvv.texture_yuv("v1", 1, 2)  # frame range past the end
    _one_line_naming(err, "v1_texture_8x6_yuv420p10le.yuv")
    with pytest.raises(InputError, match="'v0' is not a selected view"):
        mvv.texture_yuv("v0", 0, 1)
    held = mvv.open_view("v0")  # but it can be opened: same frame range
    np.testing.assert_array_equal(held.texture_yuv()[0], textures["v0"][0][2:4])
    with pytest.raises(InputError, match="no camera named 'v7'") as err:
        mvv.open_view("v7")  # unknown camera name
    _one_line_naming(err, sub.resolve())
    with pytest.raises(MissingFileError) as err:
        mvv.open_view("viewport")  # a camera without files
    _one_line_naming(err, "viewport_texture_16x12_yuv420p10le.yuv")


def test_too_many_frames_requested(tiny, tmp_path):
    yaml_path = tiny[0]
    for extra, problem in [("start_frame: 5\n", "from start_frame 5 requested but the file has 5 frames"),
                           ("start_frame: 2\nframes: 4\n", "4 frames from start_frame 2 requested")]:
        sub = _write(tmp_path / "sub.yaml", f"json: {yaml_path.parent / 'sequence.json'}\n"
                     f"content: {yaml_path.parent}\n{extra}")
        with pytest.raises(InputError, match=problem) as err:
            load_sequence(sub)
        _one_line_naming(err, "_8x6_yuv420p")


def test_unknown_view_in_yaml(tiny, tmp_path):
    yaml_path = tiny[0]
    sub = _write(tmp_path / "sub.yaml", f"json: {yaml_path.parent / 'sequence.json'}\nviews: [v0, v9]\n")
    with pytest.raises(InputError, match="no camera named 'v9'") as err:
        load_sequence(sub)
    _one_line_naming(err, sub.resolve())


def test_missing_yuv_file(tiny):
    yaml_path = tiny[0]
    missing = yaml_path.parent / "v1_depth_8x6_yuv420p16le.yuv"
    missing.unlink()
    with pytest.raises(MissingFileError) as err:
        load_sequence(yaml_path)
    _one_line_naming(err, missing)


def test_yuv_size_not_whole_frames(tiny):
    yaml_path = tiny[0]
    bad = yaml_path.parent / "v0_texture_8x6_yuv420p10le.yuv"
    with bad.open("ab") as f:
        f.write(b"\0" * 7)
    with pytest.raises(FormatError, match="not a whole number of 8x6 yuv420p10le frames") as err:
        load_sequence(yaml_path)
    _one_line_naming(err, bad)


def test_views_of_different_resolution(tmp_path):
    cams = _cameras(2)
    cams[1] = cams[1].replace(resolution=(10, 6))
    seq = Sequence(version="4.0", content_name="Mixed", fps=30.0, frames_number=2,
                   cameras=tuple(cams), source_camera_names=("v0", "v1"))
    path = tmp_path / "mixed.json"
    write_sequence_json(seq, path)
    with pytest.raises(InputError, match="view 'v1' is 10x6 but 'v0' is 8x6") as err:
        load_sequence(path)
    _one_line_naming(err, path.resolve())


def test_depth_10_bit_is_requantized(tmp_path):
    """Kitchen-type content: BitDepthDepth 10 stored as yuv420p10le, read as 16-bit samples."""
    cams = [c.replace(bit_depth_depth=10) for c in _cameras(1)]
    seq = Sequence(version="4.0", content_name="Kitchenish", fps=30.0, frames_number=2,
                   cameras=tuple(cams), source_camera_names=("v0",))
    write_sequence_json(seq, tmp_path / "k.json")
    textures, _ = _content(["v0"], n=2)
    write_yuv(tmp_path / "v0_texture_8x6_yuv420p10le.yuv", textures["v0"], "yuv420p10le")
    depth10 = np.arange(2 * 48).reshape(2, 6, 8).astype(np.uint16) * 10
    neutral = np.full((2, 3, 4), 512, np.uint16)
    write_yuv(tmp_path / "v0_depth_8x6_yuv420p10le.yuv", (depth10, neutral, neutral), "yuv420p10le")
    _write(tmp_path / "seq.yaml", "json: k.json\ndepth: '{view}_depth_{w}x{h}_yuv420p10le.yuv'\n")
    mvv = load_sequence(tmp_path / "seq.yaml")
    got = mvv.depth_samples("v0")
    np.testing.assert_array_equal(got, requantize(depth10, 10, 16))
    assert got[0, 0, 1] == 641  # round(65535 * 10 / 1023) = round(640.6)
    # a 16-bit file for a BitDepthDepth 10 camera contradicts the JSON
    _write(tmp_path / "s16.yaml", "json: k.json\n")
    write_yuv(tmp_path / "v0_depth_8x6_yuv420p16le.yuv", (depth10, neutral, neutral), "yuv420p16le")
    with pytest.raises(InputError, match="BitDepthDepth 10 but the file is yuv420p16le"):
        load_sequence(tmp_path / "s16.yaml")


def test_texture_only_sequence(tmp_path):
    seq = Sequence(version="4.0", content_name="NoDepth", fps=30.0, frames_number=1,
                   cameras=tuple(_cameras(2)), source_camera_names=("v0", "v1"))
    textures, _ = _content(["v0", "v1"], n=2)
    yaml_path = write_sequence(tmp_path / "nd", seq, textures, {})
    assert "depth: null" in yaml_path.read_text()
    mvv = load_sequence(yaml_path)
    assert mvv.views == ["v0", "v1"] and not mvv.has_depth and mvv.depth_path("v0") is None
    with pytest.raises(InputError, match="has no depth file"):
        mvv.depth_samples("v0", 0, 1)


def test_load_sequence_bad_paths(tmp_path):
    with pytest.raises(MissingFileError):
        load_sequence(tmp_path / "nothing.yaml")
    _write(tmp_path / "x.txt", "hi")
    with pytest.raises(InputError, match="expected a seq.yaml"):
        load_sequence(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no seq.yaml and no .json"):
        load_sequence(tmp_path / "empty")
    _write(tmp_path / "seq.yaml", "json: missing.json\n")
    with pytest.raises(MissingFileError) as err:
        load_sequence(tmp_path / "seq.yaml")
    _one_line_naming(err, (tmp_path / "missing.json").resolve())


def test_write_sequence_is_atomic(tmp_path):
    seq = Sequence(version="4.0", content_name="T", fps=30.0, frames_number=1,
                   cameras=tuple(_cameras(2)), source_camera_names=("v0", "v1"))
    textures, depths = _content(["v0", "v1"], n=2)
    bad = dict(textures)
    bad["v1"] = (textures["v1"][0][:, :4], *textures["v1"][1:])  # wrong width for the camera
    with pytest.raises(ValueError, match="v1"):
        write_sequence(tmp_path / "out", seq, bad, depths)
    assert not (tmp_path / "out").exists() and not list(tmp_path.iterdir())
    out = tmp_path / "keep"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="outside 0..1023"):
        write_sequence(out, seq, {**textures, "v1": (textures["v1"][0] + 2000, *textures["v1"][1:])}, depths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="different frame counts"):
        write_sequence(out, seq, textures, {"v0": depths["v0"], "v1": depths["v1"][:1]})
    with pytest.raises(ValueError, match="depth views"):
        write_sequence(out, seq, textures, {"v0": depths["v0"]})
    with pytest.raises(InputError, match="no camera named 'v5'"):
        write_sequence(out, seq, {"v5": textures["v0"]}, {})


def test_write_sequence_accepts_torch_and_start_frame(tmp_path):
    seq = Sequence(version="4.0", content_name="T", fps=30.0, frames_number=1,
                   cameras=tuple(_cameras(2)), source_camera_names=("v0", "v1"))
    textures, depths = _content(["v0", "v1"], n=3)
    as_torch = {k: tuple(torch.from_numpy(p.astype(np.int32)) for p in v) for k, v in textures.items()}
    yaml_path = write_sequence(tmp_path / "t", seq, as_torch, depths, start_frame=1)
    assert "views" not in yaml_path.read_text()  # same as the JSON's source views
    mvv = load_sequence(yaml_path)
    assert mvv.start_frame == 1 and mvv.num_frames == 2
    np.testing.assert_array_equal(mvv.texture_yuv("v1", 0, 1)[0], textures["v1"][0][1:2])


def test_seqspec_for_json(tmp_path):
    spec = SeqSpec.for_json(tmp_path / "a.json")
    assert spec.content == tmp_path.resolve() and spec.texture_pix_fmt == parse_pix_fmt("yuv420p10le")


# ---------------------------------------------------------------------------------- docs


def _doc_blocks(language: str) -> list[str]:
    text = (Path(__file__).resolve().parents[1] / "docs" / "sequence.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_docs_examples_parse(tmp_path):
    """The JSON and seq.yaml examples in docs/sequence.md are valid input."""
    (json_text,) = _doc_blocks("json")
    seq = parse_sequence_json(json_text, "docs/sequence.md")
    assert seq.source_camera_names == ("v00",) and math.isinf(seq.viewport.depth_range[1])
    yamls = _doc_blocks("yaml")
    assert len(yamls) == 2
    for i, text in enumerate(yamls):
        spec = read_seq_yaml(_write(tmp_path / f"s{i}.yaml", text))
        assert spec.json.suffix == ".json"
    assert read_seq_yaml(tmp_path / "s1.yaml").depth_pix_fmt.bits == 10
