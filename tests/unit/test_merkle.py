"""Unit tests for the RFC 6962 / RFC 9162 Merkle tree in ledger.merkle."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    consistency_proof_from_frontier,
    consistency_subtrees,
    fold_peaks,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

MAX_PROOF_SIZE = 33  # covers every shape up to one past 2**5, including all ragged right edges


# --- reference implementation and fixtures --------------------------------------------------------


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written exactly as the RFC recursion, as an independent oracle."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def reference_subproof(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(m, D[start:end], b), written as the RFC recursion, as ranges."""
    n = end - start
    if m == n:
        return [] if complete else [(start, end)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*reference_subproof(m, start, start + k, complete), (start + k, end)]
    return [*reference_subproof(m - k, start + k, end, False), (start, start + k)]


def reference_consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """RFC 9162 PROOF(m, D[n]): empty for the trivial cases, else SUBPROOF(m, D[n], true)."""
    if old_size in (0, new_size):
        return []
    return reference_subproof(old_size, 0, new_size, True)


def content_hash(i: int) -> bytes:
    """A deterministic stand-in for the content hash of transaction ``i``."""
    return hashlib.sha256(f"transaction {i}".encode()).digest()


LEAVES = [leaf_hash(content_hash(i)) for i in range(64)]


def flip_bit(value: bytes) -> bytes:
    """Return ``value`` with the lowest bit of its first byte inverted."""
    return bytes([value[0] ^ 1]) + value[1:]


def rfc_leaf(data: bytes) -> bytes:
    """Leaf hash of arbitrary data, as in the Certificate Transparency test vectors."""
    return hashlib.sha256(b"\x00" + data).digest()


# Published Certificate Transparency vectors (transparency-dev/merkle proof/verify_test.go).
CT_LEAVES = [
    rfc_leaf(bytes.fromhex(h))
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
CT_INCLUSION = [  # (index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


# --- hashing primitives -----------------------------------------------------------------------------


def test_a_leaf_hash_is_sha256_of_a_zero_byte_then_the_content_hash() -> None:
    value = content_hash(7)
    assert leaf_hash(value) == hashlib.sha256(b"\x00" + value).digest()


def test_a_node_hash_is_sha256_of_a_one_byte_then_both_children() -> None:
    left, right = LEAVES[0], LEAVES[1]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, content_hash(1).hex().encode()])
def test_a_leaf_hash_refuses_anything_but_a_raw_32_byte_content_hash(bad: bytes) -> None:
    with pytest.raises(ValueError):
        leaf_hash(bad)


# --- roots ------------------------------------------------------------------------------------------


def test_the_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(41))
def test_the_root_matches_the_recursive_rfc_6962_reference_for_sizes_0_to_40(size: int) -> None:
    assert root_hash(LEAVES[:size]) == reference_root(LEAVES[:size])


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_the_root_matches_the_published_certificate_transparency_vectors(size: int) -> None:
    assert root_hash(CT_LEAVES[:size]) == CT_ROOTS[size]


def test_the_root_of_a_large_ragged_tree_matches_the_reference() -> None:
    leaves = [leaf_hash(content_hash(i)) for i in range(5_003)]
    assert root_hash(leaves) == reference_root(leaves)


def test_the_root_accepts_any_sequence_such_as_a_tuple() -> None:
    assert root_hash(tuple(LEAVES[:11])) == root_hash(LEAVES[:11])


# --- streaming accumulator --------------------------------------------------------------------------


def test_a_new_accumulator_is_empty_with_the_empty_root() -> None:
    acc = MerkleAccumulator()
    assert acc.size == 0
    assert acc.root() == EMPTY_ROOT


def test_the_accumulator_root_equals_root_hash_after_every_append() -> None:
    acc = MerkleAccumulator()
    for size, value in enumerate(LEAVES, start=1):
        acc.append(value)
        assert acc.size == size
        assert acc.root() == root_hash(LEAVES[:size])


@settings(max_examples=75, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=200))
def test_the_accumulator_root_equals_root_hash_at_every_prefix(contents: list[bytes]) -> None:
    leaves = [leaf_hash(value) for value in contents]
    acc = MerkleAccumulator()
    assert acc.root() == root_hash([])
    for size, value in enumerate(leaves, start=1):
        acc.append(value)
        assert acc.root() == root_hash(leaves[:size])


def test_the_accumulator_keeps_only_one_peak_per_set_bit_of_its_size() -> None:
    acc = MerkleAccumulator()
    acc.extend(leaf_hash(content_hash(i)) for i in range(1_000))
    assert acc.size == 1_000
    assert len(acc._peaks) == bin(1_000).count("1")  # the O(log n) memory bound


def test_the_accumulator_refuses_a_value_that_is_not_a_32_byte_hash() -> None:
    with pytest.raises(ValueError):
        MerkleAccumulator().append(b"short")


# --- inclusion proofs -------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_an_inclusion_proof_matches_the_published_vectors(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(CT_LEAVES[:size], index)
    assert [p.hex() for p in proof] == expected
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, CT_ROOTS[size])


def test_an_inclusion_proof_verifies_for_every_leaf_of_small_trees() -> None:
    for size in range(1, MAX_PROOF_SIZE + 1):
        root = root_hash(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(LEAVES[:size], index)
            assert verify_inclusion(LEAVES[index], index, size, proof, root), (index, size)


def test_the_single_leaf_tree_has_an_empty_inclusion_proof() -> None:
    assert inclusion_proof(LEAVES[:1], 0) == []
    assert verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])


def test_an_inclusion_proof_fails_for_a_different_leaf() -> None:
    for size in range(2, MAX_PROOF_SIZE + 1):
        root = root_hash(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(LEAVES[:size], index)
            other = LEAVES[(index + 1) % size]
            assert not verify_inclusion(other, index, size, proof, root), (index, size)
            assert not verify_inclusion(flip_bit(LEAVES[index]), index, size, proof, root)


def test_an_inclusion_proof_fails_at_any_other_index() -> None:
    for size in range(2, MAX_PROOF_SIZE + 1):
        root = root_hash(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(LEAVES[:size], index)
            for wrong in range(size):
                if wrong != index:
                    assert not verify_inclusion(LEAVES[index], wrong, size, proof, root), (index, wrong)


def test_an_inclusion_proof_fails_when_any_proof_element_is_altered() -> None:
    for size in range(2, MAX_PROOF_SIZE + 1):
        root = root_hash(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(LEAVES[:size], index)
            for i in range(len(proof)):
                altered = [*proof[:i], flip_bit(proof[i]), *proof[i + 1 :]]
                assert not verify_inclusion(LEAVES[index], index, size, altered, root), (index, size, i)


def test_an_inclusion_proof_fails_when_truncated_extended_or_claimed_for_another_size() -> None:
    for size in range(2, MAX_PROOF_SIZE + 1):
        root = root_hash(LEAVES[:size])
        for index in range(size):
            proof = inclusion_proof(LEAVES[:size], index)
            assert not verify_inclusion(LEAVES[index], index, size, proof[:-1], root)
            assert not verify_inclusion(LEAVES[index], index, size, [*proof, root], root)
            assert not verify_inclusion(LEAVES[index], index, size, [root, *proof], root)
            assert not verify_inclusion(LEAVES[index], index, size * 2, proof, root)
            assert not verify_inclusion(LEAVES[index], index, size, proof, root_hash(LEAVES[: size + 1]))


def test_an_inclusion_proof_with_a_wrong_length_element_fails_instead_of_raising() -> None:
    proof = inclusion_proof(LEAVES[:8], 3)
    root = root_hash(LEAVES[:8])
    assert not verify_inclusion(LEAVES[3], 3, 8, [proof[0][:31], *proof[1:]], root)
    assert not verify_inclusion(LEAVES[3], 3, 8, proof, root[:31])
    assert not verify_inclusion(LEAVES[3][:31], 3, 8, proof, root)


@pytest.mark.parametrize(("index", "size"), [(-1, 4), (4, 4), (0, 0)])
def test_an_inclusion_proof_for_an_index_outside_the_tree_is_a_value_error(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES[:size], index)
    with pytest.raises(ValueError):
        verify_inclusion(LEAVES[0], index, size, [], root_hash(LEAVES[:size]))


# --- consistency proofs -----------------------------------------------------------------------------


@pytest.mark.parametrize(("old_size", "new_size", "expected"), CT_CONSISTENCY)
def test_a_consistency_proof_matches_the_published_vectors(
    old_size: int, new_size: int, expected: list[str]
) -> None:
    proof = consistency_proof(CT_LEAVES[:new_size], old_size)
    assert [p.hex() for p in proof] == expected
    assert verify_consistency(old_size, new_size, CT_ROOTS[old_size], CT_ROOTS[new_size], proof)


def test_a_consistency_proof_verifies_for_every_pair_of_sizes_in_small_trees() -> None:
    roots = [root_hash(LEAVES[:n]) for n in range(MAX_PROOF_SIZE + 1)]
    for new_size in range(MAX_PROOF_SIZE + 1):
        for old_size in range(new_size + 1):
            proof = consistency_proof(LEAVES[:new_size], old_size)
            assert verify_consistency(old_size, new_size, roots[old_size], roots[new_size], proof), (
                old_size,
                new_size,
            )


def test_the_trivial_consistency_cases_need_no_proof_and_must_match_the_roots() -> None:
    root4, root5 = root_hash(LEAVES[:4]), root_hash(LEAVES[:5])
    assert consistency_proof(LEAVES[:4], 4) == []
    assert consistency_proof(LEAVES[:4], 0) == []
    assert verify_consistency(4, 4, root4, root4, [])
    assert not verify_consistency(4, 4, root4, root5, [])
    assert not verify_consistency(4, 4, root4, root4, [root4])
    assert verify_consistency(0, 5, EMPTY_ROOT, root5, [])
    assert not verify_consistency(0, 5, root4, root5, [])  # the old head must really be empty
    assert not verify_consistency(0, 5, EMPTY_ROOT, root5, [root5])


def test_a_consistency_proof_fails_when_any_proof_element_is_altered() -> None:
    roots = [root_hash(LEAVES[:n]) for n in range(MAX_PROOF_SIZE + 1)]
    for new_size in range(2, MAX_PROOF_SIZE + 1):
        for old_size in range(1, new_size):
            proof = consistency_proof(LEAVES[:new_size], old_size)
            for i in range(len(proof)):
                altered = [*proof[:i], flip_bit(proof[i]), *proof[i + 1 :]]
                assert not verify_consistency(
                    old_size, new_size, roots[old_size], roots[new_size], altered
                ), (
                    old_size,
                    new_size,
                    i,
                )


def test_a_consistency_proof_fails_for_a_rewritten_history_or_wrong_sizes() -> None:
    roots = [root_hash(LEAVES[:n]) for n in range(MAX_PROOF_SIZE + 1)]
    for new_size in range(2, MAX_PROOF_SIZE + 1):
        for old_size in range(1, new_size):
            proof = consistency_proof(LEAVES[:new_size], old_size)
            # An old head over different leaves (a rewritten transaction) must not be shown consistent.
            forged_old = root_hash([*LEAVES[: old_size - 1], flip_bit(LEAVES[old_size - 1])])
            assert not verify_consistency(old_size, new_size, forged_old, roots[new_size], proof)
            assert not verify_consistency(
                old_size, new_size, roots[old_size], flip_bit(roots[new_size]), proof
            )
            assert not verify_consistency(old_size, new_size, roots[old_size], roots[new_size], [])
            assert not verify_consistency(old_size, new_size, roots[old_size], roots[new_size], proof[:-1])
            extended = [*proof, roots[new_size]]
            assert not verify_consistency(old_size, new_size, roots[old_size], roots[new_size], extended)
            for wrong_old in range(1, new_size):
                if wrong_old != old_size:
                    assert not verify_consistency(
                        wrong_old, new_size, roots[old_size], roots[new_size], proof
                    ), (old_size, wrong_old, new_size)


def test_a_consistency_proof_with_a_wrong_length_element_fails_instead_of_raising() -> None:
    proof = consistency_proof(LEAVES[:8], 6)
    root6, root8 = root_hash(LEAVES[:6]), root_hash(LEAVES[:8])
    assert not verify_consistency(6, 8, root6, root8, [proof[0][:31], *proof[1:]])
    assert not verify_consistency(6, 8, root6[:31], root8, proof)


@pytest.mark.parametrize(("old_size", "new_size"), [(-1, 4), (5, 4)])
def test_a_consistency_proof_for_impossible_sizes_is_a_value_error(old_size: int, new_size: int) -> None:
    with pytest.raises(ValueError):
        consistency_proof(LEAVES[:new_size], old_size)
    with pytest.raises(ValueError):
        verify_consistency(old_size, new_size, EMPTY_ROOT, EMPTY_ROOT, [])


# --- consistency proofs from a frontier (auditing a log against a trusted head) ---------------------


def test_the_proof_subtrees_match_the_recursive_rfc_9162_reference_for_every_pair_of_sizes() -> None:
    for new_size in range(65):
        for old_size in range(new_size + 1):
            expected = reference_consistency_ranges(old_size, new_size)
            assert consistency_subtrees(old_size, new_size) == expected, (old_size, new_size)


def test_every_proof_subtree_is_a_perfect_subtree_of_the_old_tree_or_lies_wholly_after_it() -> None:
    for new_size in range(1, 65):
        for old_size in range(1, new_size):
            old_subtrees = set(perfect_subtrees(old_size))
            for start, end in consistency_subtrees(old_size, new_size):
                assert (start, end) in old_subtrees or start >= old_size, (old_size, new_size, start, end)


@pytest.mark.parametrize("size", range(65))
def test_the_perfect_subtrees_are_the_accumulator_frontier_and_fold_to_the_root(size: int) -> None:
    acc = MerkleAccumulator()
    acc.extend(LEAVES[:size])
    subtrees = perfect_subtrees(size)
    assert [end - start for start, end in subtrees] == sorted(
        (end - start for start, end in subtrees), reverse=True
    )
    assert sum(end - start for start, end in subtrees) == size
    assert [root_hash(LEAVES[start:end]) for start, end in subtrees] == list(acc.peaks)
    assert fold_peaks(acc.peaks) == root_hash(LEAVES[:size]) == reference_root(LEAVES[:size])


def test_a_proof_from_the_old_frontier_equals_the_proof_from_every_leaf() -> None:
    for new_size in range(MAX_PROOF_SIZE + 1):
        for old_size in range(new_size + 1):
            old = MerkleAccumulator()
            old.extend(LEAVES[:old_size])
            asked: list[tuple[int, int]] = []

            def appended_root(start: int, end: int, asked: list[tuple[int, int]] = asked) -> bytes:
                asked.append((start, end))
                return root_hash(LEAVES[start:end])

            proof = consistency_proof_from_frontier(old_size, old.peaks, new_size, appended_root)
            assert proof == consistency_proof(LEAVES[:new_size], old_size), (old_size, new_size)
            assert all(start >= old_size for start, _ in asked), "no old leaf was needed"


def test_the_published_consistency_vectors_come_out_of_the_frontier_too() -> None:
    for old_size, new_size, expected in CT_CONSISTENCY:
        old = MerkleAccumulator()
        old.extend(CT_LEAVES[:old_size])
        proof = consistency_proof_from_frontier(
            old_size, old.peaks, new_size, lambda start, end: root_hash(CT_LEAVES[start:end])
        )
        assert [p.hex() for p in proof] == expected


def test_a_frontier_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        consistency_proof_from_frontier(6, [LEAVES[0]], 8, lambda start, end: root_hash(LEAVES[start:end]))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_log_rewritten_anywhere_before_the_trusted_size_is_never_proved_consistent(
    data: st.DataObject,
) -> None:
    new_size = data.draw(st.integers(min_value=1, max_value=64), label="new size")
    old_size = data.draw(st.integers(min_value=1, max_value=new_size), label="old size")
    rewritten = data.draw(st.integers(min_value=0, max_value=old_size - 1), label="rewritten leaf")
    trusted_root = root_hash(LEAVES[:old_size])
    log = [*LEAVES[:rewritten], flip_bit(LEAVES[rewritten]), *LEAVES[rewritten + 1 : new_size]]

    proof = consistency_proof(log, old_size)

    assert not verify_consistency(old_size, new_size, trusted_root, root_hash(log), proof)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_log_extended_after_the_trusted_size_is_proved_consistent(data: st.DataObject) -> None:
    new_size = data.draw(st.integers(min_value=0, max_value=64), label="new size")
    old_size = data.draw(st.integers(min_value=0, max_value=new_size), label="old size")
    tail = data.draw(
        st.lists(
            st.binary(min_size=32, max_size=32), min_size=new_size - old_size, max_size=new_size - old_size
        )
    )
    log = [*LEAVES[:old_size], *(leaf_hash(value) for value in tail)]

    proof = consistency_proof(log, old_size)

    assert verify_consistency(old_size, new_size, root_hash(LEAVES[:old_size]), root_hash(log), proof)
