# fresh_cmake_dir DIR: removes DIR's CMake cache when another generator than Ninja made it (an older
# checkout's Make build), since CMake refuses to switch generators in place. Sourced by build.sh
# and test.sh.
fresh_cmake_dir() {
  local cache="$1/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache"; then
    echo "build: $1 was made by another generator; making it again with Ninja"
    rm -rf "$1/CMakeCache.txt" "$1/CMakeFiles"
  fi
}
