"""Fast, partitioned builder of the liabilities Merkle sum tree.

Numpy lays out every preimage of a level in one buffer (u128 sums as uint64 limbs,
big-endian encodings by one `astype`), `hashlib.sha256` hashes them; the sorted leaves are
cut into 2^k contiguous partitions built in parallel (forked processes or Dask) by the
same `build_partition` function, then the top levels are folded. Levels are written as
pair records that `por.builder.proofstore` memory-maps to serve proofs.
"""

from por.builder._batch import AccountBatch, LeafBatch
from por.builder._build import BuiltTree, EngineName, build_tree, build_tree_from_leaves
from por.builder._errors import TreeInputError
from por.builder._sharded import ClientTraffic, ClusterError, ShardedBuild, build_tree_from_shards
from por.builder.partition import PartitionInput, PartitionTop, build_partition

__all__ = [
    "AccountBatch",
    "BuiltTree",
    "ClientTraffic",
    "ClusterError",
    "EngineName",
    "LeafBatch",
    "PartitionInput",
    "PartitionTop",
    "ShardedBuild",
    "TreeInputError",
    "build_partition",
    "build_tree",
    "build_tree_from_shards",
    "build_tree_from_leaves",
]
