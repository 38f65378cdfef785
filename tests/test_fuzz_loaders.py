"""Property-based fuzzing of every loader: mutated files raise only PartKDError, or load valid clips, quickly.

Each loader gets a valid seed file written here in its exact on-disk format, then
- byte-level mutations: truncation, bit flips, spliced random bytes or number-like text, random files;
- structure-level mutations: one value of the parsed document (JSON, pyskl dict, npz arrays, cache
  header) replaced by a random value (huge integers, NaN, wrong types and shapes, strings), so the
  mutated file still parses at the container level and reaches the loader's own checks.
Any exception other than a PartKDError subclass is a loader bug, and so is a case taking over MAX_SECONDS.
Hypothesis runs derandomized (a fixed seed per test), so CI is reproducible.
"""
from __future__ import annotations

import io
import json
import pickle
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from partkd.data.dataset import SkeletonDataset
from partkd.data.loaders import load_dataset
from partkd.errors import PartKDError
from partkd.layouts import get_layout, load_layout_file

#: Bound on one load of one mutated file.
MAX_SECONDS = 5.0
#: Extra address space a fuzz test may use: a huge allocation fails fast instead of swamping the machine.
MEMORY_HEADROOM = 3 << 30

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def bounded_memory() -> Iterator[None]:
    """Cap the address space while fuzzing, restoring the old limit afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    cap = used + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ---------------------------------------------------------------- valid seed files, one per format

def seed_penn(path: Path, compressed: bool) -> None:
    rng = np.random.default_rng(0)
    scipy.io.savemat(path, do_compression=compressed, mdict={
        "action": np.array(["bowl"]), "pose": np.array(["front"]), "train": np.array([[1]]),
        "nframes": np.array([[3]], dtype=np.uint8), "x": rng.uniform(0, 640, (3, 13)),
        "y": rng.uniform(0, 480, (3, 13)), "visibility": (rng.random((3, 13)) > 0.3).astype(np.uint8)})


def ucla_doc() -> dict:
    skel = np.random.default_rng(1).normal(size=(2, 20, 3)).round(3)
    return {"file_name": "a01_s01_e01_v01", "label": 1, "skeletons": skel.tolist()}


def ntu_text() -> str:
    rng = np.random.default_rng(2)
    lines = ["2"]
    for _ in range(2):
        lines += ["1", "72057594037931101 0 0 0 0 0 0 0.1 0.2 2", "25"]
        lines += [" ".join(f"{v:.4g}" for v in rng.uniform(0.1, 2, 12)) for _ in range(25)]
    return "\n".join(lines) + "\n"


def pyskl_doc() -> dict:
    rng = np.random.default_rng(3)
    anns = [{"frame_dir": f"S001C001P00{i + 1}R001A00{i + 1}", "label": i, "total_frames": 2,
             "keypoint": rng.uniform(1, 100, (1, 2, 17, 2)).astype(np.float32),
             "keypoint_score": rng.uniform(0.1, 1, (1, 2, 17)).astype(np.float16)} for i in range(2)]
    return {"split": {"xsub_train": [anns[0]["frame_dir"]], "xsub_val": [anns[1]["frame_dir"]]},
            "annotations": anns}


def kinetics_doc() -> dict:
    rng = np.random.default_rng(4)
    frames = [{"frame_index": t + 1, "skeleton": [
        {"pose": rng.uniform(0, 1, 36).round(3).tolist(), "score": rng.uniform(0, 1, 18).round(3).tolist()}
        for _ in range(2)]} for t in range(2)]
    return {"data": frames, "label": "bowling", "label_index": 3}


def npz_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {"keypoint": rng.uniform(1, 2, (2, 1, 3, 17, 2)).astype(np.float32), "label": np.array([0, 1]),
            "keypoint_score": rng.uniform(0.1, 1, (2, 1, 3, 17)).astype(np.float32),
            "split": np.array(["train", "test"]), "class_names": np.array(["a", "b"]),
            "layout": np.array("coco17"), "pair_id": np.array([0, 1]), "length": np.array([3, 2]),
            "name": np.array(["c0", "c1"])}


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def cache_dataset() -> SkeletonDataset:
    rng = np.random.default_rng(6)
    clips = [rng.uniform(1, 2, (1, 3, 17, 3)).astype(np.float32), rng.uniform(1, 2, (2, 2, 17, 3)).astype(np.float32)]
    return SkeletonDataset(clips, np.array([0, 1]), ["a", "b"], np.array(["train", "test"]), get_layout("coco17"),
                           ["c0", "c1"], np.array([0, 1]), {"skipped": []})


LAYOUT_DOC = {"name": "stick7", "dims": 2,
              "joints": ["neck", "l_hand", "r_hand", "pelvis", "l_foot", "r_foot", "head"],
              "edges": [["head", "neck"], ["l_hand", "neck"], ["r_hand", "neck"], ["pelvis", "neck"],
                        ["l_foot", "pelvis"], ["r_foot", "pelvis"]], "center": "neck",
              "parts": {"head": ["head", "neck"], "left_arm": ["l_hand"], "right_arm": ["r_hand"],
                        "left_leg": ["pelvis", "l_foot"], "right_leg": ["r_foot"]}}
LAYOUT_TOML = """name = "stick7"
dims = 2
joints = ["neck", "l_hand", "r_hand", "pelvis", "l_foot", "r_foot", "head"]
edges = [["head", "neck"], ["l_hand", "neck"], ["r_hand", "neck"], ["pelvis", "neck"],
         ["l_foot", "pelvis"], ["r_foot", "pelvis"]]
center = "neck"

[parts]
head = ["head", "neck"]
left_arm = ["l_hand"]
right_arm = ["r_hand"]
left_leg = ["pelvis", "l_foot"]
right_leg = ["r_foot"]
"""

def penn_bytes(tmp: Path, compressed: bool) -> bytes:
    seed_penn(tmp / "seed.mat", compressed)
    return (tmp / "seed.mat").read_bytes()


#: seed id -> (format, file name, writer of the seed bytes given a scratch folder)
SEEDS: dict[str, tuple[str, str, Callable[[Path], bytes]]] = {
    "penn_action": ("penn_action", "0001.mat", lambda tmp: penn_bytes(tmp, False)),
    "penn_action_zlib": ("penn_action", "0001.mat", lambda tmp: penn_bytes(tmp, True)),
    "nw_ucla": ("nw_ucla", "a01_s01_e01_v01.json", lambda _: json.dumps(ucla_doc()).encode()),
    "ntu": ("ntu", "S001C001P001R001A001.skeleton", lambda _: ntu_text().encode()),
    "pyskl": ("pyskl", "ann.pkl", lambda _: pickle.dumps(pyskl_doc(), protocol=4)),
    "kinetics": ("kinetics", "clip.json", lambda _: json.dumps(kinetics_doc()).encode()),
    "npz": ("npz", "clips.npz", lambda _: npz_bytes(npz_arrays())),
    "npz_zlib": ("npz", "clips.npz", lambda _: npz_bytes(npz_arrays(), compressed=True)),
}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("seeds")
    return {sid: make(tmp) for sid, (_, _, make) in SEEDS.items()}


# ---------------------------------------------------------------- mutations

NUMBERISH = st.text(alphabet="0123456789-+.eEnaNif x\n", min_size=1, max_size=24).map(str.encode)


@st.composite
def mutate_bytes(draw: st.DrawFn, seed: bytes) -> bytes:
    """Truncated, bit-flipped, spliced or entirely random bytes."""
    kind = draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if kind == "truncate":
        return seed[:draw(st.integers(0, len(seed) - 1))]
    if kind == "flip":
        data = bytearray(seed)
        for pos, bit in draw(st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 7)),
                                      min_size=1, max_size=8)):
            data[pos] ^= 1 << bit
        return bytes(data)
    if kind == "splice":
        start = draw(st.integers(0, len(seed)))
        end = start + draw(st.integers(0, 16))
        return seed[:start] + draw(st.binary(min_size=1, max_size=16) | NUMBERISH) + seed[end:]
    return draw(st.binary(max_size=600))


SCALARS = (st.none() | st.booleans() | st.integers() | st.sampled_from([-1, 0, 2**31, 2**63, 10**12, -(10**12)])
           | st.floats() | st.text(max_size=6))
JSON_VALUES = st.recursive(
    SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=12)
SMALL_ARRAYS = hnp.arrays(
    st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.uint8, np.bool_, np.complex64, "<U4", "S3"]),
    hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))


def paths_of(doc: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested dicts and lists, the document itself included."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths_of(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths_of(v, prefix + (i,))
    return out


def replaced(doc: object, path: tuple, value: object) -> object:
    """A copy of doc with the value at path replaced (or, for value DELETE in a container, removed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        new = dict(doc)
    else:
        new = list(doc)  # type: ignore[arg-type]
    if rest or value is not DELETE:
        new[head] = replaced(new[head], rest, value)
    else:
        del new[head]
    return new


DELETE = object()


@st.composite
def mutate_doc(draw: st.DrawFn, doc: object, values: st.SearchStrategy) -> object:
    """doc with one to three values replaced by random ones, or deleted."""
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths_of(doc)))
        doc = replaced(doc, path, draw(values | st.just(DELETE)) if path else draw(values))
    return doc


# ---------------------------------------------------------------- the property

def assert_partkd_error_or_valid(load: Callable[[], object], path: Path) -> None:
    """load() raises a one-line PartKDError naming the file, or returns valid data; in under MAX_SECONDS."""
    start = time.monotonic()
    try:
        result = load()
    except PartKDError as e:
        msg = str(e)
        assert "\n" not in msg, msg
        assert path.name in msg, f"error does not name the file: {msg}"
    else:
        if isinstance(result, SkeletonDataset):
            result.check_clips()
            assert len(result) > 0
            assert all(c.dtype == np.float32 and c.shape[-2] == result.layout.num_joints for c in result.clips)
            assert 0 <= result.labels.min() and result.labels.max() < result.num_classes
    elapsed = time.monotonic() - start
    assert elapsed < MAX_SECONDS, f"one case took {elapsed:.1f} s"


def load_format(fmt: str, path: Path) -> Callable[[], object]:
    return lambda: load_dataset(path, format=fmt, cache=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("sid", list(SEEDS))
def test_seed_files_are_valid(sid: str, seeds: dict[str, bytes], work: Path) -> None:
    fmt, name, _ = SEEDS[sid]
    path = work / name
    path.write_bytes(seeds[sid])
    ds = load_dataset(path, format=fmt, cache=False)
    ds.check_clips()
    assert len(ds) >= 1


@pytest.mark.parametrize("sid", list(SEEDS))
def test_mutated_bytes(sid: str, seeds: dict[str, bytes], work: Path) -> None:
    fmt, name, _ = SEEDS[sid]
    path = work / name

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path.write_bytes(data.draw(mutate_bytes(seeds[sid])))
        assert_partkd_error_or_valid(load_format(fmt, path), path)

    run()


STRUCTURED: dict[str, tuple[object, st.SearchStrategy]] = {
    "nw_ucla": (ucla_doc(), JSON_VALUES),
    "kinetics": (kinetics_doc(), JSON_VALUES),
    "pyskl": (pyskl_doc(), JSON_VALUES | SMALL_ARRAYS),
}


@pytest.mark.parametrize("fmt", list(STRUCTURED))
def test_mutated_documents(fmt: str, work: Path) -> None:
    doc, values = STRUCTURED[fmt]
    path = work / SEEDS[fmt][1]

    @FUZZ
    @given(new=mutate_doc(doc, values), protocol=st.sampled_from([2, 5]))
    def run(new: object, protocol: int) -> None:
        if fmt == "pyskl":
            path.write_bytes(pickle.dumps(new, protocol=protocol))
        else:
            path.write_text(json.dumps(new))
        assert_partkd_error_or_valid(load_format(fmt, path), path)

    run()


def test_mutated_ntu_tokens(work: Path) -> None:
    tokens = ntu_text().split()
    path = work / SEEDS["ntu"][1]
    token = st.sampled_from(["-1", "0", "1", "2", "25", "24", "999999", "nan", "inf", "1e400", "x", ""]) | \
        st.integers(-3, 10**9).map(str)

    @FUZZ
    @given(edits=st.lists(st.tuples(st.integers(0, len(tokens) - 1), token), min_size=1, max_size=4))
    def run(edits: list[tuple[int, str]]) -> None:
        new = list(tokens)
        for i, tok in edits:
            new[i] = tok
        path.write_text(" ".join(new))
        assert_partkd_error_or_valid(load_format("ntu", path), path)

    run()


def test_mutated_npz_arrays(work: Path) -> None:
    path = work / "clips.npz"
    seed = npz_arrays()

    @FUZZ
    @given(key=st.sampled_from(sorted(seed)), value=SMALL_ARRAYS | st.just(None), compressed=st.booleans())
    def run(key: str, value: np.ndarray | None, compressed: bool) -> None:
        arrays = dict(seed)
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
        path.write_bytes(npz_bytes(arrays, compressed))
        assert_partkd_error_or_valid(load_format("npz", path), path)

    run()


# ---------------------------------------------------------------- the dataset cache and layout files

@pytest.fixture(scope="module")
def cache_seed(work: Path) -> bytes:
    path = work / "seed-cache.npz"
    cache_dataset().save_npz(path)
    return path.read_bytes()


def test_mutated_cache_bytes(cache_seed: bytes, work: Path) -> None:
    path = work / "cache.npz"
    assert SkeletonDataset.load_npz(_write(path, cache_seed)).names == ["c0", "c1"]

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _write(path, data.draw(mutate_bytes(cache_seed)))
        assert_partkd_error_or_valid(lambda: SkeletonDataset.load_npz(path), path)

    run()


def test_mutated_cache_contents(cache_seed: bytes, work: Path) -> None:
    path = work / "cache.npz"
    with np.load(io.BytesIO(cache_seed)) as z:
        seed = {k: z[k] for k in z.files}
    header = json.loads(seed["header"].tobytes())

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        arrays = dict(seed)
        if data.draw(st.booleans()):
            new = data.draw(mutate_doc(header, JSON_VALUES))
            arrays["header"] = np.frombuffer(json.dumps(new).encode(), dtype=np.uint8)
        else:
            key = data.draw(st.sampled_from(sorted(seed)))
            arrays[key] = data.draw(SMALL_ARRAYS | st.integers(-2, 10**6).map(lambda n: np.array([n] * 2)))
        path.write_bytes(npz_bytes(arrays))
        assert_partkd_error_or_valid(lambda: SkeletonDataset.load_npz(path), path)

    run()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_mutated_layout_bytes(suffix: str, work: Path) -> None:
    path = work / f"layout{suffix}"
    seed = (json.dumps(LAYOUT_DOC) if suffix == ".json" else LAYOUT_TOML).encode()
    assert load_layout_file(_write(path, seed)).num_joints == 7

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _write(path, data.draw(mutate_bytes(seed)))
        assert_partkd_error_or_valid(lambda: load_layout_file(path), path)

    run()


def test_mutated_layout_documents(work: Path) -> None:
    path = work / "layout.json"

    @FUZZ
    @given(new=mutate_doc(LAYOUT_DOC, JSON_VALUES | st.integers(-10, 10)))
    def run(new: object) -> None:
        path.write_text(json.dumps(new))
        assert_partkd_error_or_valid(lambda: load_layout_file(path), path)

    run()


def test_deeply_nested_json_is_refused(work: Path) -> None:
    """Nesting deep enough to exhaust Python's recursion is a readable error, not a RecursionError."""
    deep = "[" * 200_000 + "]" * 200_000
    cases = [(work / "deep_layout.json", lambda p: load_layout_file(p)),
             (work / "a01_s01_e01_v02.json", load_dataset_fn("nw_ucla")),
             (work / "deep_clip.json", load_dataset_fn("kinetics"))]
    for path, load in cases:
        path.write_text(deep)
        assert_partkd_error_or_valid(lambda: load(path), path)
    path = work / "deep_layout.toml"
    path.write_text("x = " + "[" * 200_000 + "]" * 200_000)
    assert_partkd_error_or_valid(lambda: load_layout_file(path), path)


def load_dataset_fn(fmt: str) -> Callable[[Path], object]:
    return lambda p: load_dataset(p, format=fmt, cache=False)



# ---------------------------------------------------------------- Human3.6M (a folder of HDF5 files)

H36M_FILES = ("cameras.h5", "S1/MyPoses/3D_positions/Walking 1.h5", "S1/StackedHourglass/Walking_1.54138969.h5")


@pytest.fixture(scope="module")
def h36m_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    from helpers import write_h36m

    root = write_h36m(tmp_path_factory.mktemp("h36m") / "h", frames=12, subjects=(1,))
    load_dataset(root, format="h36m", quality="detections", cache=False).check_clips()
    return root, {f: (root / f).read_bytes() for f in H36M_FILES}


def _h36m_case(root: Path, seed: dict[str, bytes], target: str, data: bytes) -> None:
    for f, raw in seed.items():
        (root / f).write_bytes(data if f == target else raw)
    for quality in ("mocap", "detections", "projected"):
        assert_partkd_error_or_valid(
            lambda: load_dataset(root, format="h36m", quality=quality, fps=10, cache=False), root / target)


def test_mutated_h36m_bytes(h36m_seed: tuple[Path, dict[str, bytes]]) -> None:
    root, seed = h36m_seed

    @FUZZ
    @given(target=st.sampled_from(H36M_FILES), data=st.data())
    def run(target: str, data: st.DataObject) -> None:
        _h36m_case(root, seed, target, data.draw(mutate_bytes(seed[target])))

    run()


def test_mutated_h36m_arrays(h36m_seed: tuple[Path, dict[str, bytes]], work: Path) -> None:
    """The HDF5 container is valid but a dataset (pose array or a camera parameter) holds any small array."""
    import h5py

    root, seed = h36m_seed
    keys = [(H36M_FILES[1], "3D_positions"), (H36M_FILES[2], "poses")] + \
        [("cameras.h5", f"subject1/camera1/{k}") for k in ("R", "T", "f", "c", "k", "p", "Name")]
    scratch = work / "h36m_mutated.h5"

    @FUZZ
    @given(key=st.sampled_from(keys), value=SMALL_ARRAYS.filter(lambda a: a.dtype.kind != "U"))
    def run(key: tuple[str, str], value: np.ndarray) -> None:
        target, name = key
        scratch.write_bytes(seed[target])
        with h5py.File(scratch, "a") as f:
            del f[name]
            f[name] = value
        _h36m_case(root, seed, target, scratch.read_bytes())

    run()
