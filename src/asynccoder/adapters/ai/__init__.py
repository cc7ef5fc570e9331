"""Language-model adapters on the providers' official SDKs, and a scripted double."""
