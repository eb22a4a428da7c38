# Run by the build (migrate_library in CMakeLists.txt): fails when a source of library LIB
# includes a project header from a folder that LIB may not use.
#   cmake -DLIB=name -DALLOWED=dir|dir... -DFILES=file|file... -DSTAMP=file -P check-includes.cmake
# A project header is a quoted include with a folder ("transfer/tls/tls.h"); its folder must be
# one of ALLOWED (the library's own and those of the libraries it declares it uses).
cmake_minimum_required(VERSION 3.25)
string(REPLACE "|" ";" allowed "${ALLOWED}")
string(REPLACE "|" ";" files "${FILES}")
set(errors "")
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]+/[^\"/]+\"")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)/[^\"/]+\".*$" "\\1" dir "${line}")
    if(NOT dir IN_LIST allowed)
      string(APPEND errors "  ${file}: includes from ${dir}/\n")
    endif()
  endforeach()
endforeach()
if(errors)
  string(REPLACE ";" ", " allowed_text "${allowed}")
  message(FATAL_ERROR "${LIB} may use only ${allowed_text}; declare the dependency in its "
                      "migrate_library() call or move the code:\n${errors}")
endif()
file(WRITE "${STAMP}" "ok\n")
