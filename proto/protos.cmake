# Wire types. Every enum's zero value is *_UNSPECIFIED and never a real value.
# Included from the top-level CMakeLists.txt (not add_subdirectory) so that protoc runs with
# the repository root as its only import path: "proto/x.proto" generates "proto/x.pb.h".
file(GLOB MIGRATE_PROTOS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/proto/*.proto)
add_library(migrate_proto STATIC)
# Beside the generated code, what is derived from the wire types alone (the cgroup modes' names).
target_sources(migrate_proto PRIVATE ${MIGRATE_PROTOS} ${PROJECT_SOURCE_DIR}/proto/cgroup_mode_names.cc)
protobuf_generate(TARGET migrate_proto LANGUAGE cpp PROTOC_OUT_DIR ${PROJECT_BINARY_DIR})
target_include_directories(migrate_proto PUBLIC ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
target_link_libraries(migrate_proto PUBLIC protobuf::libprotobuf PRIVATE Boost::headers)
set_property(GLOBAL PROPERTY MIGRATE_ALLOWED_migrate_proto proto)
