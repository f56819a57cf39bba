"""Clubcard's double-entry ledger: pure domain and use cases (persistence lives in ledger.db)."""
