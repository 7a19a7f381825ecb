"""ctc.yuv: pix_fmt naming, frame sizes, memory-mapped reading, atomic writing, chroma resampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ctc.errors import FormatError, InputError, MissingFileError
from ctc.yuv import (
    YuvReader,
    YuvWriter,
    check_frame_range,
    downsample_chroma_420,
    parse_pix_fmt,
    pix_fmt_for,
    pix_fmt_from_filename,
    read_video_file,
    upsample_chroma_420,
    write_yuv,
    yuv_filename,
)

# ---------------------------------------------------------------------------------- PixFmt


@pytest.mark.parametrize(
    ("name", "chroma", "bits", "bps"),
    [
        ("gray", 400, 8, 1), ("gray10le", 400, 10, 2), ("gray16le", 400, 16, 2),
        ("yuv420p", 420, 8, 1), ("yuv420p10le", 420, 10, 2), ("yuv420p16le", 420, 16, 2),
        ("yuv444p", 444, 8, 1), ("yuv444p10le", 444, 10, 2), ("yuv444p16le", 444, 16, 2),
    ],
)
def test_parse_pix_fmt_fields(name, chroma, bits, bps):
    fmt = parse_pix_fmt(name)
    assert (fmt.name, fmt.chroma, fmt.bits, fmt.bytes_per_sample) == (name, chroma, bits, bps)
    assert pix_fmt_for(chroma, bits) == fmt


@pytest.mark.parametrize("name", ["rgb24", "nv12", "yuv420p10be", "yuv422p", "yuv420p11le", "", "YUV420P"])
def test_parse_pix_fmt_rejects_unknown(name):
    with pytest.raises(InputError, match="unknown pix_fmt"):
        parse_pix_fmt(name)


def test_frame_bytes_hand_values():
    # CTC texture 1920x1080 4:2:0 10 bit = W*H*1.5*2 bytes (miv_ctc.md §2.2)
    assert parse_pix_fmt("yuv420p10le").frame_bytes(1920, 1080) == 1920 * 1080 * 3
    assert parse_pix_fmt("yuv420p").frame_bytes(1920, 1080) == 3_110_400  # the IV-PSNR fixtures
    assert parse_pix_fmt("gray16le").frame_bytes(4, 3) == 24
    assert parse_pix_fmt("yuv444p16le").frame_bytes(4, 3) == 72
    # odd sizes: chroma rounds up like ffmpeg
    assert parse_pix_fmt("yuv420p").plane_shapes(5, 3) == ((3, 5), (2, 3), (2, 3))
    assert parse_pix_fmt("yuv420p").frame_bytes(5, 3) == 15 + 2 * 6


def test_pix_fmt_from_filename_and_yuv_filename():
    name = yuv_filename("{view}_texture_{w}x{h}_yuv420p10le.yuv", "v3", 1920, 1080)
    assert name == "v3_texture_1920x1080_yuv420p10le.yuv"
    assert pix_fmt_from_filename(name).name == "yuv420p10le"
    assert pix_fmt_from_filename("clip.yuv") is None
    assert pix_fmt_from_filename("a_b.yuv") is None
    assert yuv_filename("{view}_{pix_fmt}.yuv", "v0", 1, 1, "gray16le") == "v0_gray16le.yuv"
    with pytest.raises(InputError, match="unknown placeholder"):
        yuv_filename("{view}_{frames}.yuv", "v0", 1, 1)
    with pytest.raises(InputError, match="pattern"):
        yuv_filename("{view", "v0", 1, 1)


# ---------------------------------------------------------------------------------- reading


def _planes(rng, fmt_name, n, w, h):
    fmt = parse_pix_fmt(fmt_name)
    return tuple(
        rng.integers(0, fmt.max_value + 1, (n, *shape)).astype(fmt.dtype)
        for shape in fmt.plane_shapes(w, h)
    )


def test_reader_reads_little_endian_planes_hand_bytes(tmp_path):
    # one 2x2 yuv420p10le frame: Y = 1, 2, 3, 1023; U = 512; V = 0x0102 (LE bytes 02 01)
    raw = bytes([1, 0, 2, 0, 3, 0, 0xFF, 0x03, 0x00, 0x02, 0x02, 0x01])
    path = tmp_path / "f.yuv"
    path.write_bytes(raw)
    reader = YuvReader(path, 2, 2, "yuv420p10le")
    assert reader.num_frames == 1
    y, u, v = reader.read(0, 1)
    assert y.dtype == np.uint16 and y.shape == (1, 2, 2)
    assert y.tolist() == [[[1, 2], [3, 1023]]]
    assert u.tolist() == [[[512]]] and v.tolist() == [[[0x0102]]]
    np.testing.assert_array_equal(reader.read_luma(), y)


@pytest.mark.parametrize("fmt_name", ["yuv420p10le", "yuv420p", "yuv444p16le", "gray16le", "gray"])
def test_write_read_round_trip(tmp_path, fmt_name):
    rng = np.random.default_rng(1)
    planes = _planes(rng, fmt_name, 5, 6, 4)
    path = tmp_path / "x.yuv"
    write_yuv(path, planes, fmt_name)
    fmt = parse_pix_fmt(fmt_name)
    assert path.stat().st_size == 5 * fmt.frame_bytes(6, 4)
    reader = YuvReader(path, 6, 4, fmt_name)
    assert reader.num_frames == 5
    got = reader.read(1, 3)
    assert len(got) == fmt.num_planes
    for a, b in zip(got, planes, strict=True):
        assert a.dtype == fmt.dtype
        np.testing.assert_array_equal(a, b[1:4])
    np.testing.assert_array_equal(reader.read_luma(4, 1), planes[0][4:5])
    assert all(len(p) == 5 for p in reader.read())  # default: everything


def test_write_accepts_torch_and_single_frame(tmp_path):
    y = torch.arange(12, dtype=torch.int32).reshape(3, 4)
    u = torch.full((2, 2), 7, dtype=torch.int32)
    write_yuv(tmp_path / "t.yuv", (y, u, u), "yuv420p")
    got = YuvReader(tmp_path / "t.yuv", 4, 3, "yuv420p").read()
    assert got[0][0].tolist() == y.tolist() and got[1][0].tolist() == [[7, 7], [7, 7]]


def test_write_rejects_out_of_range_and_bad_shapes(tmp_path):
    y = np.full((1, 2, 2), 1024, np.uint16)
    c = np.zeros((1, 1, 1), np.uint16)
    with pytest.raises(ValueError, match="outside 0..1023"):
        write_yuv(tmp_path / "a.yuv", (y, c, c), "yuv420p10le")
    y = y - 1
    with pytest.raises(ValueError, match="shape"):
        write_yuv(tmp_path / "a.yuv", (y, c, np.zeros((1, 2, 2), np.uint16)), "yuv420p10le")
    with pytest.raises(ValueError, match="needs 3 planes"):
        write_yuv(tmp_path / "a.yuv", (y,), "yuv420p10le")
    assert not list(tmp_path.iterdir())  # nothing written, no temporaries left


def test_reader_missing_file(tmp_path):
    with pytest.raises(MissingFileError) as err:
        YuvReader(tmp_path / "nope.yuv", 4, 4, "yuv420p")
    assert "nope.yuv" in str(err.value) and "\n" not in str(err.value)


def test_reader_size_not_whole_frames(tmp_path):
    path = tmp_path / "v0_texture_4x4_yuv420p10le.yuv"
    path.write_bytes(bytes(48 + 10))  # one 4x4 frame is 48 bytes
    with pytest.raises(FormatError) as err:
        YuvReader(path, 4, 4, "yuv420p10le")
    message = str(err.value)
    assert str(path) in message and "not a whole number" in message and "48 bytes" in message


def test_reader_range_past_end(tmp_path):
    path = tmp_path / "a.yuv"
    path.write_bytes(bytes(3 * 24))
    reader = YuvReader(path, 4, 4, "yuv420p")
    assert reader.num_frames == 3
    for start, count in [(2, 2), (3, 1), (-1, 1), (0, -1)]:
        with pytest.raises(InputError) as err:
            reader.read(start, count)
        assert str(path) in str(err.value) and "3 frames" in str(err.value)
    with pytest.raises(InputError):
        reader.read_luma(0, 4)


def test_frame_range_rule():
    """``None`` runs to the end (empty at or past it); anything outside the frames is an error
    naming the place, the range and what has how many frames."""
    assert check_frame_range("f", 0, None, 5) == 5
    assert check_frame_range("f", 2, None, 5) == 3
    assert check_frame_range("f", 5, None, 5) == 0
    assert check_frame_range("f", 1, 4, 5) == 4
    cases = [((2, 4), "frames 2..5 requested but the file has 5 frames"),
             ((7, None), "frame 7 requested but the file has 5 frames"),
             ((-1, 1), "negative frame range (start -1, count 1) requested; the file has 5 frames"),
             ((0, -2), "negative frame range (start 0, count -2) requested; the file has 5 frames")]
    for (start, count), problem in cases:
        with pytest.raises(InputError) as err:
            check_frame_range("a.yuv", start, count, 5)
        assert str(err.value) == f"a.yuv: {problem}"
    with pytest.raises(InputError, match=r"frames 4..5 requested but the sequence has 5 frames \(from 2\)"):
        check_frame_range("s", 4, 2, 5, "the sequence", " (from 2)")


def test_reader_bad_pix_fmt_names_file(tmp_path):
    path = tmp_path / "a.yuv"
    path.write_bytes(bytes(24))
    with pytest.raises(InputError) as err:
        YuvReader(path, 4, 4, "rgb24")
    assert str(path) in str(err.value)


def test_empty_file_has_no_frames(tmp_path):
    path = tmp_path / "a.yuv"
    path.write_bytes(b"")
    reader = YuvReader(path, 4, 4, "yuv420p")
    assert reader.num_frames == 0
    assert [p.shape for p in reader.read()] == [(0, 4, 4), (0, 2, 2), (0, 2, 2)]
    assert reader.read_luma(0, 0).shape == (0, 4, 4)
    with pytest.raises(InputError):
        reader.read(0, 1)


# ---------------------------------------------------------------------------------- YuvWriter


def test_yuv_writer_appends_frames(tmp_path):
    rng = np.random.default_rng(2)
    planes = _planes(rng, "yuv420p10le", 4, 6, 4)
    path = tmp_path / "out" / "w.yuv"
    with YuvWriter(path, 6, 4, "yuv420p10le") as writer:
        writer.write(tuple(p[0] for p in planes))  # one frame, 2-D planes
        writer.write(tuple(p[1:] for p in planes))  # three frames
        assert not path.exists()  # appears only on success
    assert writer.frames_written == 4
    got = YuvReader(path, 6, 4, "yuv420p10le").read()
    for a, b in zip(got, planes, strict=True):
        np.testing.assert_array_equal(a, b)


def test_yuv_writer_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "w.yuv"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), YuvWriter(path, 2, 2, "gray") as writer:
        writer.write((np.zeros((1, 2, 2), np.uint8),))
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"  # the older file survives
    assert [p.name for p in tmp_path.iterdir()] == ["w.yuv"]  # no temporaries


def test_yuv_writer_write_outside_block(tmp_path):
    writer = YuvWriter(tmp_path / "w.yuv", 2, 2, "gray")
    with pytest.raises(RuntimeError):
        writer.write((np.zeros((2, 2), np.uint8),))


# ---------------------------------------------------------------------------------- chroma


def test_upsample_replicates_numpy_and_torch():
    c = np.array([[1, 2], [3, 4]], np.uint16)
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert upsample_chroma_420(c).tolist() == expected
    assert upsample_chroma_420(torch.from_numpy(c.astype(np.int32))).tolist() == expected
    assert upsample_chroma_420(c, (3, 3)).tolist() == [r[:3] for r in expected[:3]]
    batched = np.stack([c, c + 10])  # leading dimensions are kept
    assert upsample_chroma_420(batched).shape == (2, 4, 4)


def test_downsample_means_and_rounds_half_up():
    full = np.array([[0, 1, 10, 10], [1, 0, 10, 11], [5, 5, 0, 0], [5, 5, 0, 2]], np.uint16)
    # block sums 2, 41, 20, 2 -> (s+2)//4 = 1, 10, 5, 1 (0.5 -> 1, 10.25 -> 10, 0.5 -> 1)
    assert downsample_chroma_420(full).tolist() == [[1, 10], [5, 1]]
    assert downsample_chroma_420(full).dtype == np.uint16
    t = downsample_chroma_420(torch.from_numpy(full.astype(np.int32)))
    assert t.tolist() == [[1, 10], [5, 1]] and t.dtype == torch.int32
    f = downsample_chroma_420(full.astype(np.float32))
    assert f.tolist() == [[0.5, 10.25], [5.0, 0.5]]
    assert downsample_chroma_420(torch.from_numpy(full).float()).tolist() == [[0.5, 10.25], [5.0, 0.5]]


def test_downsample_odd_size_repeats_edge():
    full = np.arange(15, dtype=np.float64).reshape(3, 5)
    out = downsample_chroma_420(full)
    assert out.shape == (2, 3)
    assert out[1, 2] == 14.0  # last row and column average with themselves
    torch_out = downsample_chroma_420(torch.from_numpy(full))
    np.testing.assert_allclose(torch_out.numpy(), out)


def test_down_up_keeps_constant_blocks():
    c = np.array([[[100, 900], [512, 64]]], np.uint16)
    np.testing.assert_array_equal(downsample_chroma_420(upsample_chroma_420(c)), c)


# ---------------------------------------------------------------------------------- PNG / video


def _encode(path, frames_rgb=None, *, codec, pix_fmt, planes=None, w=16, h=8, n=3):
    av = pytest.importorskip("av")

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        for i in range(n):
            if frames_rgb is not None:
                frame = av.VideoFrame.from_ndarray(frames_rgb[i], format="rgb24")
            else:
                frame = av.VideoFrame.from_ndarray(planes[i], format=pix_fmt)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_read_png_rgb_converts_to_ctc_texture(tmp_path):
    av = pytest.importorskip("av")

    rgb = np.zeros((8, 16, 3), np.uint8)
    rgb[:, :8] = 255  # white | black
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    with av.open(str(tmp_path / "a.png"), "w") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 16, 8, "rgb24"
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    (y, u, v), fmt = read_video_file(tmp_path / "a.png")
    assert fmt.name == "yuv420p10le" and y.shape == (1, 8, 16) and u.shape == (1, 4, 8)
    assert y[0, 0, 0] == 940 and y[0, 0, 15] == 64  # BT.709 limited range white / black
    assert (u == 512).all() and (v == 512).all()


def test_read_png_folder_gray16_depth(tmp_path):
    av = pytest.importorskip("av")

    for i in range(2):
        depth = np.full((4, 6), 1000 * (i + 1), np.uint16)
        frame = av.VideoFrame.from_ndarray(depth, format="gray16le")
        with av.open(str(tmp_path / f"d{i:02d}.png"), "w") as container:
            stream = container.add_stream("png")
            stream.width, stream.height, stream.pix_fmt = 6, 4, "gray16be"
            container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    (d,), fmt = read_video_file(tmp_path)
    assert fmt.name == "gray16le" and d.shape == (2, 4, 6)
    assert d[0].min() == d[0].max() == 1000 and d[1].max() == 2000


def test_read_lossless_video_keeps_planes(tmp_path):
    pytest.importorskip("av")
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (12, 16), dtype=np.uint8) for _ in range(3)]
    path = tmp_path / "a.mkv"
    _encode(path, codec="ffv1", pix_fmt="yuv420p", planes=frames)
    (y, u, v), fmt = read_video_file(path)
    assert fmt.name == "yuv420p" and y.shape == (3, 8, 16) and u.shape == (3, 4, 8)
    np.testing.assert_array_equal(y[1], frames[1][:8])
    np.testing.assert_array_equal(u[2], frames[2][8:10].reshape(4, 8))


def test_read_mp4(tmp_path):
    pytest.importorskip("av")
    rgb = np.full((3, 16, 32, 3), 128, np.uint8)
    path = tmp_path / "a.mp4"
    _encode(path, rgb, codec="mpeg4", pix_fmt="yuv420p", w=32, h=16)
    (y, u, v), fmt = read_video_file(path)
    assert fmt.name == "yuv420p" and y.shape == (3, 16, 32)


def test_read_video_file_errors(tmp_path):
    pytest.importorskip("av")
    with pytest.raises(MissingFileError):
        read_video_file(tmp_path / "none.mp4")
    with pytest.raises(MissingFileError, match="no .png"):
        read_video_file(tmp_path)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(FormatError) as err:
        read_video_file(bad)
    assert "bad.mp4" in str(err.value)
