"""Contract suites, test doubles and real-server fixtures that third parties import too."""
