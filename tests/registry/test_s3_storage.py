"""The S3 blob storage against a real SeaweedFS cluster."""

from __future__ import annotations

from tests.registry.seaweedfs import SeaweedFS


def test_cluster_serves_s3(seaweedfs: SeaweedFS) -> None:
    bucket = seaweedfs.new_bucket()
    seaweedfs.client().put_object(Bucket=bucket, Key="k", Body=b"v")
    assert seaweedfs.client().get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
