"""Hostile input files: code-running pickles, broken layouts, pickled npz arrays, lying caches, path tricks.

Every case must fail with the project's own error (naming the file), run nothing and write nothing
outside the test's temporary folders.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from partkd.data.dataset import SkeletonDataset
from partkd.data.loaders import cache_dir, load_dataset
from partkd.errors import DataError, LayoutError
from partkd.layouts import get_layout, load_layout_file

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def sandbox(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Cache and HOME inside a temp folder; afterwards nothing new exists beside the test's folders."""
    root = tmp_path_factory.mktemp("sandbox")
    monkeypatch.setenv("PARTKD_CACHE", str(root / "cache"))
    monkeypatch.setenv("HOME", str(root / "home"))
    parent = root.parent
    before = set(parent.iterdir())
    cwd_before = set(Path.cwd().iterdir())
    yield root
    assert not (root / "home").exists(), "something was written under HOME"
    assert set(parent.iterdir()) - before <= {p for p in parent.iterdir() if p.name.startswith("test_")}
    assert set(Path.cwd().iterdir()) == cwd_before


def pyskl_doc() -> dict:
    rng = np.random.default_rng(0)
    anns = [{"frame_dir": f"clip{i}", "label": i, "keypoint": rng.uniform(1, 9, (1, 3, 17, 2)).astype(np.float32)}
            for i in range(2)]
    return {"split": {"train": ["clip0"], "test": ["clip1"]}, "annotations": anns}


# ---------------------------------------------------------------- pickles that try to run code

class Payload:
    """Pickles to `func(*args)`: what a malicious annotation file would make pickle.load call."""

    def __init__(self, func: object, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def payloads(marker: Path) -> dict[str, Payload]:
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": Payload(os.system, (f"touch {marker}",)),
        "subprocess.call": Payload(subprocess.call, (["touch", str(marker)],)),
        "subprocess.Popen": Payload(subprocess.Popen, (["touch", str(marker)],)),
        "builtins.eval": Payload(eval, (touch,)),
        "builtins.exec": Payload(exec, (touch,)),
        "builtins.open": Payload(open, (str(marker), "w")),
    }


@pytest.mark.parametrize("name", list(payloads(Path("m"))))
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("where_", ["top", "annotation", "array_slot"])
def test_pickle_payload_refused_and_never_runs(tmp_path: Path, name: str, protocol: int, where_: str) -> None:
    marker = tmp_path / "pwned"
    payload = payloads(marker)[name]
    doc = pyskl_doc()
    if where_ == "top":
        doc = payload  # type: ignore[assignment]
    elif where_ == "annotation":
        doc["annotations"][1]["extra"] = payload
    else:
        doc["annotations"][0]["keypoint"] = payload
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(doc, protocol=protocol))
    with pytest.raises(DataError, match="refused unsafe pickle global") as err:
        load_dataset(path, format="pyskl", cache=False)
    msg = str(err.value)
    assert str(path) in msg and name.split(".")[-1] in msg and "\n" not in msg
    assert not marker.exists()


def global_op(module: str, name: str, protocol: int) -> bytes:
    """The opcode that pushes `module.name`: GLOBAL (protocols 0-3) or STACK_GLOBAL (4+)."""
    if protocol < 4:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    enc = [pickle.SHORT_BINUNICODE + bytes([len(s)]) + s.encode() for s in (module, name)]
    return enc[0] + enc[1] + pickle.STACK_GLOBAL


def call_pickle(module: str, name: str, args: bytes, protocol: int) -> bytes:
    """A hand-written pickle that calls module.name(*args) with REDUCE; `args` pushes one tuple."""
    head = pickle.PROTO + bytes([protocol]) if protocol >= 2 else b""
    return head + global_op(module, name, protocol) + args + pickle.REDUCE + pickle.STOP


def text_tuple(*items: str) -> bytes:
    return pickle.MARK + b"".join(b"V" + s.encode() + b"\n" for s in items) + pickle.TUPLE


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("module, name", [
    ("numpy", "load"), ("numpy.lib.npyio", "load"), ("numpy.lib.format", "read_array"),
    ("numpy", "fromfile"), ("numpy", "save"), ("numpy.testing._private.utils", "runstring"),
    ("functools", "partial"), ("builtins", "getattr"), ("builtins", "__import__"),
    ("builtins", "eval"), ("os", "system"), ("posix", "system"), ("subprocess", "check_output"),
    ("copyreg", "_reconstructor"), ("pickle", "loads"), ("numpy.core.multiarray", "_fastCopyAndTranspose"),
])
def test_global_and_stack_global_outside_allow_list_refused(tmp_path: Path, protocol: int, module: str,
                                                            name: str) -> None:
    marker = tmp_path / "pwned"
    target = tmp_path / "written.npy"
    path = tmp_path / "globals.pkl"
    path.write_bytes(call_pickle(module, name, text_tuple(str(target), f"touch {marker}"), protocol))
    with pytest.raises(DataError, match="refused unsafe pickle global") as err:
        load_dataset(path, format="pyskl", cache=False)
    assert f"'{module}.{name}'" in str(err.value) and str(path) in str(err.value)
    assert not marker.exists() and not target.exists()


def test_getattr_chain_through_allowed_global_refused(tmp_path: Path) -> None:
    """builtins.getattr(numpy.dtype, ...) style escapes need getattr, which is never allowed."""
    path = tmp_path / "chain.pkl"
    inner = global_op("numpy", "dtype", 2)
    body = (pickle.PROTO + b"\x02" + global_op("builtins", "getattr", 2) + pickle.MARK + inner
            + b"V__class__\n" + pickle.TUPLE + pickle.REDUCE + pickle.STOP)
    path.write_bytes(body)
    with pytest.raises(DataError, match="builtins.getattr"):
        load_dataset(path, format="pyskl", cache=False)


def test_allowed_reconstructors_cannot_allocate_huge_arrays(tmp_path: Path) -> None:
    """numpy's own pickles call _reconstruct with shape (0,); a huge declared shape is refused, not allocated."""
    path = tmp_path / "huge.pkl"
    shape = pickle.MARK + b"L" + str(4 * 10**9).encode() + b"L\n" + pickle.TUPLE
    body = (pickle.PROTO + b"\x02" + global_op("numpy.core.multiarray", "_reconstruct", 2) + pickle.MARK
            + global_op("numpy", "ndarray", 2) + shape + b"Vb\n" + pickle.TUPLE + pickle.REDUCE + pickle.STOP)
    path.write_bytes(body)
    with pytest.raises(DataError, match=r"huge.pkl: corrupt or unreadable pickle .*refused _reconstruct"):
        load_dataset(path, format="pyskl", cache=False)


def test_valid_pickle_still_loads(tmp_path: Path) -> None:
    for protocol in (2, 4, 5):
        path = tmp_path / f"ok{protocol}.pkl"
        path.write_bytes(pickle.dumps(pyskl_doc(), protocol=protocol))
        ds = load_dataset(path, cache=False)
        assert ds.names == ["clip0", "clip1"] and list(ds.split) == ["train", "test"]


# ---------------------------------------------------------------- layout files

CHAIN = {"name": "chain5", "dims": 2, "joints": ["a", "b", "c", "d", "e"],
         "edges": [[1, 0], [2, 1], [3, 2], [4, 3]], "center": 2,
         "parts": {"head": [2], "left_arm": [1], "right_arm": [3], "left_leg": [0], "right_leg": [4]}}


@pytest.mark.parametrize("change, problem", [
    ({"edges": [[1, 0], [2, 1], [3, 2], [7, 3]]}, "out of range"),
    ({"edges": [[1, 0], [2, 1], [-1, 3]]}, "out of range"),
    ({"center": 5}, "out of range"),
    ({"parts": {**CHAIN["parts"], "right_leg": [9]}}, "out of range"),
    ({"edges": [[1, 0], [2, 1], [4, 3]]}, "not connected"),
    ({"edges": [[1, 0], [2, 1], [3, 2], [3, 2]], "center": 4}, "not connected"),
    ({"parts": {"head": [2], "left_arm": [1], "right_arm": [3], "left_leg": [0], "right_leg": []}}, "in no part"),
    ({"parts": {"head": [2, 4], "left_arm": [1], "right_arm": [3], "left_leg": [0]}}, "empty parts"),
    ({"joints": ["a", "b", "c", "d", "e\nf"]}, "printable"),
    ({"edges": [[1, 1], [2, 1], [3, 2], [4, 3]]}, "self-loop"),
    ({"dims": 4}, "dims must be 2 or 3"),
    ({"edges": "abc"}, "malformed layout"),
])
@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_bad_layout_files_raise_layout_error_naming_the_file(tmp_path: Path, change: dict, problem: str,
                                                            suffix: str) -> None:
    d = {**CHAIN, **change}
    path = tmp_path / f"bad_layout{suffix}"
    path.write_text(json.dumps(d) if suffix == ".json" else to_toml(d))
    for load in (load_layout_file, get_layout):
        with pytest.raises(LayoutError, match=problem) as err:
            load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    np.savez(tmp_path / "clips.npz", keypoint=np.ones((1, 1, 2, 5, 3), np.float32), label=np.array([0]))
    with pytest.raises(LayoutError, match=problem):
        load_dataset(tmp_path / "clips.npz", layout=path, cache=False)


def to_toml(d: dict) -> str:
    """Enough TOML for a layout dict (strings, ints, lists, one [parts] table); JSON strings are valid TOML."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in d.items() if k != "parts"]
    return "\n".join(lines + ["[parts]"] + [f"{k} = {json.dumps(v)}" for k, v in d["parts"].items()]) + "\n"


def test_npz_layout_string_cannot_name_a_file(tmp_path: Path) -> None:
    """The npz 'layout' is a built-in name or layout JSON, never a path the loader would go and read."""
    lay = tmp_path / "elsewhere.json"
    lay.write_text(json.dumps(CHAIN))
    path = tmp_path / "clips.npz"
    np.savez(path, keypoint=np.ones((1, 1, 2, 5, 3), np.float32), label=np.array([0]), layout=np.array(str(lay)))
    with pytest.raises(DataError, match="clips.npz: 'layout'"):
        load_dataset(path, cache=False)


# ---------------------------------------------------------------- npz with pickled objects, lying caches

def test_generic_npz_with_object_array_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "obj.npz"
    for key in ("keypoint", "label", "name"):
        arrays = {"keypoint": np.ones((1, 1, 2, 17, 2), np.float32), "label": np.array([0])}
        arrays[key] = np.array([Payload(os.system, (f"touch {marker}",))], dtype=object)
        np.savez(path, **arrays)
        with pytest.raises(DataError, match="obj.npz: not a readable .npz without pickled objects"):
            load_dataset(path, cache=False)
        assert not marker.exists()


def test_cache_npz_with_object_array_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "cache.npz"
    np.savez(path, header=np.array([Payload(os.system, (f"touch {marker}",))], dtype=object))
    with pytest.raises(DataError, match="cache.npz: not a partkd dataset cache"):
        SkeletonDataset.load_npz(path)
    assert not marker.exists()


def good_cache(path: Path) -> dict[str, np.ndarray]:
    clips = [np.ones((1, 3, 17, 3), np.float32), np.ones((2, 2, 17, 3), np.float32)]
    SkeletonDataset(clips, np.array([0, 1]), ["a", "b"], np.array(["train", "test"]), get_layout("coco17"),
                    ["c0", "c1"]).save_npz(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def header_bytes(header: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


@pytest.mark.parametrize("lie", ["more_frames", "fewer_persons", "joints", "negative", "huge", "labels",
                                 "names", "channels", "nan", "layout_graph", "not_json"])
def test_cache_with_lying_header_refused(tmp_path: Path, lie: str) -> None:
    path = tmp_path / "cache.npz"
    arrays = good_cache(path)
    header = json.loads(arrays["header"].tobytes())
    if lie == "more_frames":
        arrays["lengths"] = np.array([3, 9])
    elif lie == "fewer_persons":
        arrays["persons"] = np.array([1, 1])
    elif lie == "joints":
        header["layout"] = get_layout("penn13").to_dict()
    elif lie == "negative":
        arrays["lengths"] = np.array([-3, 2])
    elif lie == "huge":
        arrays["lengths"] = np.array([2**62, 2])
    elif lie == "labels":
        arrays["labels"] = np.array([0, 7])
    elif lie == "names":
        header["names"] = ["c0"]
    elif lie == "channels":
        arrays["flat"] = arrays["flat"].reshape(-1)[: (3 + 4) * 17 * 2].reshape(-1, 2)
        arrays["persons"], arrays["lengths"] = np.array([1, 2]), np.array([3, 2])
    elif lie == "nan":
        arrays["flat"] = arrays["flat"].copy()
        arrays["flat"][5, 1] = np.nan
    elif lie == "layout_graph":
        header["layout"]["edges"] = header["layout"]["edges"][1:]
    else:
        arrays["header"] = np.frombuffer(b"{not json", dtype=np.uint8)
    if lie != "not_json":
        arrays["header"] = header_bytes(header)
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="cache.npz: not a partkd dataset cache") as err:
        SkeletonDataset.load_npz(path)
    assert "\n" not in str(err.value)


def test_corrupt_cache_entry_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    src = tmp_path / "clips.npz"
    np.savez(src, keypoint=np.ones((2, 1, 2, 17, 3), np.float32), label=np.array([0, 1]))
    ds = load_dataset(src)
    entry, = cache_dir().glob("npz-*.npz")
    arrays = good_cache(tmp_path / "other.npz")
    arrays["lengths"] = np.array([3, 9])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    entry.write_bytes(buf.getvalue())
    again = load_dataset(src)
    assert again.names == ds.names and len(again) == 2
    again.check_clips()


# ---------------------------------------------------------------- path tricks

def test_dotdot_in_dataset_path_writes_only_hashed_cache_files(tmp_path: Path, sandbox: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    np.savez(tmp_path / "clips.npz", keypoint=np.ones((1, 1, 2, 17, 3), np.float32), label=np.array([0]))
    tricky = deep / ".." / ".." / "clips.npz"
    outside = tmp_path.parent  # every temp folder of this run, the cache folder included

    def files_besides_cache() -> set[Path]:
        return {p for p in outside.rglob("*") if p != cache_dir() and cache_dir() not in p.parents}

    before = files_besides_cache()
    ds = load_dataset(str(tricky))
    assert len(ds) == 1
    entries = list(cache_dir().iterdir())
    assert len(entries) == 1 and entries[0].parent == cache_dir()
    assert entries[0].name.startswith("npz-") and len(entries[0].stem) == len("npz-") + 32
    assert all(c in "0123456789abcdef" for c in entries[0].stem[4:])
    assert files_besides_cache() == before
    assert ".." not in str(ds.meta["source"]) and ds.meta["source"] == str((tmp_path / "clips.npz").resolve())


def test_format_name_with_path_separators_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "clips.npz", keypoint=np.ones((1, 1, 2, 17, 3), np.float32), label=np.array([0]))
    with pytest.raises(DataError, match="unknown format '../../npz'"):
        load_dataset(tmp_path / "clips.npz", format="../../npz")
    assert not cache_dir().exists() or not any(cache_dir().iterdir())


def test_clip_names_with_newlines_refused_in_one_line(tmp_path: Path) -> None:
    doc = pyskl_doc()
    doc["annotations"][0]["frame_dir"] = "clip0\nINFO: fake log line"
    path = tmp_path / "names.pkl"
    path.write_bytes(pickle.dumps(doc))
    with pytest.raises(DataError, match="frame_dir is not one line of text") as err:
        load_dataset(path, cache=False)
    assert "\n" not in str(err.value)
    npz = tmp_path / "names.npz"
    np.savez(npz, keypoint=np.ones((1, 1, 2, 17, 3), np.float32), label=np.array([0]), name=np.array(["a\nb"]))
    with pytest.raises(DataError, match="names.npz: 'name' holds text"):
        load_dataset(npz, cache=False)
