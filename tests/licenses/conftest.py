from tests.secrets.conftest import sarif_schema

__all__ = ["sarif_schema"]
