"""The CTC harness with a fake in-process codec: result files, resumability, failures, Ctrl-C,
frame limits, the per-view → mean aggregation (hand-computed), unavailable codecs, CLI errors."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from ctc_support import (T, Y_OFFSET, OffsetCodec, fake_config, make_tiny_sequence, psnr, write_records)

from ctc.errors import FormatError, InputError, MissingFileError
from ctc.harness import RESULT_KEYS, SequenceSpec, SynthesisSpec, limit_frames, load_results, run_ctc
from ctc.sequence import load_sequence


@pytest.fixture(scope="module")
def tiny_seq(tmp_path_factory):
    return make_tiny_sequence(tmp_path_factory.mktemp("seq"))


def _sweep(config, out, codec, **kwargs):
    return run_ctc(config, out, extra_factories={"fake": lambda spec, cfg: codec}, log=lambda _: None, **kwargs)


def _result(out, label, codec="fake"):
    return json.loads((out / "jobs" / "tiny" / codec / f"{label}.json").read_text())


def test_result_file_keys_and_hand_computed_means(tiny_seq, tmp_path):
    out = tmp_path / "out"
    _sweep(fake_config(tiny_seq), out, OffsetCodec("fake"))
    rec = _result(out, "lambda-2")
    documented = {"sequence", "sequence_path", "codec", "codec_type", "rate_point", "label", "status",
                  "bytes", "mbps", "bpp", "encode_seconds", "decode_seconds", "details", "metrics",
                  "codec_description", "environment", "frames", "views", "fps", "started", "finished"}
    assert documented <= set(rec) and set(RESULT_KEYS) <= set(rec)
    assert rec["status"] == "ok" and rec["bytes"] == 2000 and rec["frames"] == T
    assert rec["mbps"] == pytest.approx(8 * 2000 / (T / 30.0) / 1e6)
    assert rec["bpp"] == pytest.approx(8 * 2000 / (T * 2 * 16 * 8))
    assert "git" in rec["environment"]
    views = rec["metrics"]["views"]
    assert list(views) == ["v0", "v1"] and all(len(v["per_frame"]) == T for v in views.values())
    # per frame: Y error d, U error 1, V error 2 → YUV 6:1:1 = (6·Y + U + V) / 8 in dB
    u, v = psnr(1), psnr(2)
    per_view_y = {name: [psnr(d) for d in Y_OFFSET[name]] for name in views}
    for name, ys in per_view_y.items():
        assert views[name]["mean"]["y_psnr"] == pytest.approx(sum(ys) / T, abs=1e-9)
        assert views[name]["per_frame"][1]["yuv_psnr"] == pytest.approx((6 * ys[1] + u + v) / 8, abs=1e-9)
    mean = rec["metrics"]["mean"]
    # the mean over views of the per-view means of per-frame dB values (not the PSNR of a pooled MSE)
    assert mean["y_psnr"] == pytest.approx((sum(per_view_y["v0"]) / 2 + sum(per_view_y["v1"]) / 2) / 2, abs=1e-9)
    assert mean["depth_psnr"] == pytest.approx(psnr(8, 65535.0), abs=1e-9)
    assert math.isfinite(mean["ivpsnr"]) and "ws_y_psnr" not in mean
    assert (out / "report.md").is_file() and (out / "summary.json").is_file()


def test_erp_views_get_ws_psnr(tmp_path):
    seq = make_tiny_sequence(tmp_path / "erp", erp=True)
    out = tmp_path / "out"
    _sweep(fake_config(seq, lambdas=(1.0,)), out, OffsetCodec("fake"))
    mean = _result(out, "lambda-1")["metrics"]["mean"]
    assert {"ws_y_psnr", "ws_yuv_psnr", "y_psnr"} <= set(mean)
    # a uniform error has the same row-weighted MSE: WS-PSNR equals PSNR (hand-computed value)
    assert mean["ws_y_psnr"] == pytest.approx(mean["y_psnr"], abs=1e-9)
    assert mean["ws_y_psnr"] == pytest.approx((psnr(1) + psnr(2) + 2 * psnr(4)) / 4, abs=1e-9)
    assert "Equirectangular views" in (out / "report.md").read_text()


def test_synthesised_held_out_view(tmp_path):
    seq = make_tiny_sequence(tmp_path / "seq", held_out=("v2",))
    assert load_sequence(seq).views == ["v0", "v1"]
    out = tmp_path / "out"
    config = dataclasses.replace(fake_config(seq, lambdas=(1.0,)), synthesis=SynthesisSpec(max_frames=1),
                                 device="cpu")
    _sweep(config, out, OffsetCodec("fake"))
    rec = _result(out, "lambda-1")
    assert list(rec["metrics"]["views"]) == ["v0", "v1"]
    (camera,) = rec["synthesis"]["cameras"].values()
    assert len(camera["per_frame"]) == 1 and math.isfinite(rec["synthesis"]["mean"]["ivpsnr"])
    assert "synth IV-PSNR" in (out / "report.md").read_text()


def test_finished_jobs_are_skipped_on_a_second_run(tiny_seq, tmp_path):
    out = tmp_path / "out"
    first = OffsetCodec("fake")
    _sweep(fake_config(tiny_seq), out, first)
    assert first.calls == ["lambda-1", "lambda-2"]
    before = (out / "jobs" / "tiny" / "fake" / "lambda-1.json").read_bytes()
    again = OffsetCodec("fake")
    records = _sweep(fake_config(tiny_seq, lambdas=(1.0, 2.0, 4.0)), out, again)
    assert again.calls == ["lambda-4"]  # only the new rate point ran
    assert [r["label"] for r in records] == ["lambda-1", "lambda-2", "lambda-4"]
    assert (out / "jobs" / "tiny" / "fake" / "lambda-1.json").read_bytes() == before


def test_codec_and_sequence_selection_splits_a_sweep(tiny_seq, tmp_path):
    """A sweep split between machines: each runs its own codecs, the report sees every result."""
    out = tmp_path / "out"
    config = fake_config(tiny_seq)
    config = dataclasses.replace(config, codecs=(*config.codecs, dataclasses.replace(config.codecs[0], name="other")))
    first, second = OffsetCodec("fake"), OffsetCodec("other")
    factories = {"fake": lambda spec, cfg: first if spec.name == "fake" else second}
    records = run_ctc(config, out, extra_factories=factories, log=lambda _: None, codecs=["fake"])
    assert first.calls == ["lambda-1", "lambda-2"] and second.calls == []
    assert {r["codec"] for r in records} == {"fake"}
    records = run_ctc(config, out, extra_factories=factories, log=lambda _: None, codecs=["other"], sequences=["tiny"])
    assert first.calls == ["lambda-1", "lambda-2"] and second.calls == ["lambda-1", "lambda-2"]
    assert sorted((r["codec"], r["label"]) for r in records) == [
        ("fake", "lambda-1"), ("fake", "lambda-2"), ("other", "lambda-1"), ("other", "lambda-2")]
    for kind, names in (("codecs", ["nope"]), ("sequences", ["tiny", "gone"])):
        with pytest.raises(InputError, match="not a (codec|sequence) of this sweep"):
            run_ctc(config, out, extra_factories=factories, log=lambda _: None, **{kind: names})


def test_failed_job_is_recorded_sweep_continues_and_retry_reruns_it(tiny_seq, tmp_path):
    out = tmp_path / "out"
    records = _sweep(fake_config(tiny_seq, lambdas=(1.0, 2.0, 4.0)), out, OffsetCodec("fake", fail_on={"lambda-2"}))
    assert [r["status"] for r in records] == ["ok", "failed", "ok"]
    failed = _result(out, "lambda-2")
    assert failed["error"] == "RuntimeError: boom at lambda-2" and "Traceback" in failed["traceback"]
    report = (out / "report.md").read_text()
    assert "## Failed jobs" in report and "boom at lambda-2" in report
    assert json.loads((out / "summary.json").read_text())["failed"][0]["label"] == "lambda-2"
    kept = OffsetCodec("fake")
    _sweep(fake_config(tiny_seq, lambdas=(1.0, 2.0, 4.0)), out, kept)
    assert kept.calls == []  # a failed record is kept without --retry-failed
    retry = OffsetCodec("fake")
    records = _sweep(fake_config(tiny_seq, lambdas=(1.0, 2.0, 4.0)), out, retry, retry_failed=True)
    assert retry.calls == ["lambda-2"] and all(r["status"] == "ok" for r in records)
    assert "## Failed jobs" not in (out / "report.md").read_text()


def test_ctrl_c_leaves_no_half_written_result(tiny_seq, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        _sweep(fake_config(tiny_seq), out, OffsetCodec("fake", interrupt_on={"lambda-2"}))
    files = sorted(p.name for p in (out / "jobs").rglob("*") if p.is_file())
    assert files == ["lambda-1.json"]  # the finished job, and no partial file of the interrupted one
    assert not (out / "report.md").exists()
    resumed = OffsetCodec("fake")
    _sweep(fake_config(tiny_seq), out, resumed)
    assert resumed.calls == ["lambda-2"]


def test_frame_limit(tiny_seq, tmp_path):
    out = tmp_path / "out"
    _sweep(fake_config(tiny_seq, lambdas=(1.0,), frames=1), out, OffsetCodec("fake"))
    rec = _result(out, "lambda-1")
    assert rec["frames"] == 1 and all(len(v["per_frame"]) == 1 for v in rec["metrics"]["views"].values())
    assert rec["metrics"]["views"]["v0"]["mean"]["y_psnr"] == pytest.approx(psnr(Y_OFFSET["v0"][0]))
    limited = limit_frames(tiny_seq, 1, tmp_path)
    assert limited != tiny_seq and load_sequence(limited).num_frames == 1
    assert limit_frames(tiny_seq, None, tmp_path) == tiny_seq
    assert limit_frames(tiny_seq, 5, tmp_path) == tiny_seq  # not more frames than there are


def test_factory_failure_is_a_recorded_failure(tiny_seq, tmp_path):
    def broken(spec, config):
        raise InputError("ffmpeg", "not found: install imageio-ffmpeg")

    out = tmp_path / "out"
    config = fake_config(tiny_seq, lambdas=(1.0,))
    records = run_ctc(config, out, extra_factories={"fake": broken}, log=lambda _: None)
    assert records[0]["status"] == "failed"
    assert "unavailable here: InputError: ffmpeg: not found" in records[0]["error"]


def test_anchor_without_ffmpeg_fails_its_jobs_only(tiny_seq, tmp_path, monkeypatch):
    import ctc.anchors.toolchain as toolchain

    monkeypatch.setattr(toolchain, "ffmpeg_exe", lambda: None)
    out = tmp_path / "out"
    records = _sweep(fake_config(tiny_seq, lambdas=(1.0,), anchor_type="x265"), out, OffsetCodec("fake"))
    assert [(r["codec"], r["status"]) for r in records] == [("fake", "ok"), ("x265", "failed")]
    assert "ffmpeg: not found" in records[1]["error"]
    assert "ffmpeg: not found" in (out / "report.md").read_text()


def test_problems_found_before_anything_is_written(tiny_seq, tmp_path):
    out = tmp_path / "out"
    config = fake_config(tiny_seq)
    with pytest.raises(InputError, match="no codec of type 'fake'"):
        run_ctc(config, out, log=lambda _: None)
    missing = dataclasses.replace(config, sequences=(SequenceSpec("gone", path=str(tmp_path / "gone.yaml")),))
    with pytest.raises(MissingFileError, match="gone.yaml"):
        _sweep(missing, out, OffsetCodec("fake"))
    assert not out.exists()


def test_malformed_result_files(tiny_seq, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(MissingFileError, match="no job results"):
        load_results(out)
    bad = out / "jobs" / "tiny" / "fake" / "lambda-1.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    for call in (lambda: load_results(out), lambda: _sweep(fake_config(tiny_seq), out, OffsetCodec("fake"))):
        with pytest.raises(FormatError) as err:
            call()
        assert str(bad) in str(err.value) and "\n" not in str(err.value)
    write_records(out, [{"sequence": "tiny", "codec": "fake", "label": "lambda-1"}])
    with pytest.raises(FormatError, match="not a job result"):
        load_results(out)


# --------------------------------------------------------------------------------------------
# the command line


def _yaml(path, text):
    path.write_text(text)
    return path


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for needle in needles:
        assert needle in result.output


@pytest.mark.parametrize(("codec", "needle"), [
    ("{type: x265, preset: warp9, qps: [[30, 25]]}", "not a x265 preset"),
    ("{type: x265, qps: [[70, 25]]}", "qp_texture 70 outside 0..51"),
    ("{type: vvenc, bogus: 1, qps: [[30, 25]]}", "unknown option(s) bogus"),
    ("{type: mvhinerv, preset: Q, lambdas: [1]}", "unknown preset 'Q'"),
    ("{type: mvhinerv, schedule: never, lambdas: [1]}", "unknown schedule 'never'"),
    ("{type: mvhinerv, lr: 3, lambdas: [1]}", "unknown option(s) lr"),
])
def test_cli_config_errors_are_one_line_before_any_output(cli, tiny_seq, tmp_path, codec, needle):
    config = _yaml(tmp_path / "ctc.yaml", f"sequences: [{{path: {tiny_seq}}}]\ncodecs: [{codec}]\n")
    result = cli(["ctc", "run", config, "-o", tmp_path / "out"])
    _one_line_exit_2(result, str(config), needle)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("settings", "needle"), [
    ("{patch: frame, bogus: 1}", "unknown encoder setting(s): bogus"),
    ("{lam: 3}", "other than lam and schedule"),
    ("[1, 2]", "settings must be a mapping"),
    ("{patch: [0, 8]}", "patch"),
])
def test_cli_mvhinerv_settings_are_checked_before_the_sweep(cli, tiny_seq, tmp_path, settings, needle):
    config = _yaml(tmp_path / "ctc.yaml", f"sequences: [{{path: {tiny_seq}}}]\n"
                                          f"codecs: [{{type: mvhinerv, settings: {settings}, lambdas: [1]}}]\n")
    _one_line_exit_2(cli(["ctc", "run", config, "-o", tmp_path / "out"]), needle)
    assert not (tmp_path / "out").exists()


def test_mvhinerv_codec_passes_its_settings_to_the_encoder(tiny_seq):
    from ctc.harness import CodecSpec, CtcConfig
    from mvhinerv.ctc_codec import mvhinerv_codec

    spec = CodecSpec("m", "mvhinerv", ({"lambda": 1.0},), {"preset": "tiny", "settings": {"patch": "frame", "batch": 2}})
    codec = mvhinerv_codec(spec, CtcConfig("t", (SequenceSpec("tiny", path=str(tiny_seq)),), (spec,)))
    assert codec.settings == {"patch": "frame", "batch": 2} and codec.device == "auto"
    assert codec.describe()["settings"] == {"patch": "frame", "batch": 2}


def test_cli_unknown_selection_is_one_line(cli, tiny_seq, tmp_path):
    config = _yaml(tmp_path / "ctc.yaml", f"sequences: [{{path: {tiny_seq}, name: tiny}}]\n"
                                          "codecs: [{type: x265, qps: [[30, 25]]}]\n")
    _one_line_exit_2(cli(["ctc", "run", config, "-o", tmp_path / "out", "--codec", "vvenc"]),
                     "--codec vvenc", "not a codec of this sweep (x265)")


def test_cli_missing_sequence_and_unknown_content(cli, tmp_path):
    config = _yaml(tmp_path / "ctc.yaml", "sequences: [{path: nowhere/seq.yaml}]\n"
                                          "codecs: [{type: x265, qps: [[30, 25]]}]\n")
    _one_line_exit_2(cli(["ctc", "run", config, "-o", tmp_path / "out"]), "nowhere/seq.yaml")
    assert not (tmp_path / "out").exists()
    config = _yaml(tmp_path / "ctc2.yaml", "sequences: [{content: nosuch}]\ncodecs: [{type: x265, qps: [[30, 25]]}]\n")
    _one_line_exit_2(cli(["ctc", "run", config, "-o", tmp_path / "out"]), "unknown content 'nosuch'")


def test_cli_run_exits_1_when_jobs_failed(cli, tiny_seq, tmp_path, monkeypatch):
    import ctc.anchors.toolchain as toolchain

    monkeypatch.setattr(toolchain, "ffmpeg_exe", lambda: None)
    config = _yaml(tmp_path / "ctc.yaml", f"sequences: [{{path: {tiny_seq}, name: tiny}}]\n"
                                          "codecs: [{type: x265, qps: [[30, 25], [35, 30]]}]\n")
    result = cli(["ctc", "run", config, "-o", tmp_path / "out"])
    assert result.exit_code == 1
    assert "2 of 2 jobs failed" in result.output and (tmp_path / "out" / "report.md").is_file()


def test_cli_report_errors(cli, tiny_seq, tmp_path):
    config = _yaml(tmp_path / "ctc.yaml", f"sequences: [{{path: {tiny_seq}, name: tiny}}]\n"
                                          "codecs: [{type: x265, qps: [[30, 25]]}]\n")
    out = tmp_path / "out"
    _one_line_exit_2(cli(["ctc", "report", config, "-o", out]), "no job results")
    bad = out / "jobs" / "tiny" / "x265" / "qp-30-25.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("[]")
    _one_line_exit_2(cli(["ctc", "report", config, "-o", out]), str(bad), "not a job result")
    assert not (out / "report.md").exists()
