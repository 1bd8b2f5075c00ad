// Holds the precompiled header the test programs share (tests/CMakeLists.txt: test_pch).
