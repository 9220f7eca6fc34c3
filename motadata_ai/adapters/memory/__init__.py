"""In-process adapters for every port: the zero-dependency mode and the unit-test fakes."""
