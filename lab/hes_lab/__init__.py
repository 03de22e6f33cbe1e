"""Lab for emailsec.hes: emulated firewalls and a network-namespace lab. Not shipped in the collection."""
