"""Adapters: small classes around Azure Storage, Microsoft Graph and Key Vault, connecting on first use."""
