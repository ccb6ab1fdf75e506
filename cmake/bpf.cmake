# xcap_bpf_skeleton(TARGET SOURCE [CLANG_FLAG...])
#
# Compiles bpf/<name>.bpf.c with clang for the BPF target, generates a libbpf
# skeleton header <name>.skel.h with bpftool, and exposes both through an
# INTERFACE library TARGET (link it to get the include path and the build
# dependency). The object file path is exported as the TARGET's property
# XCAP_BPF_OBJECT for tests that need the raw object. Extra arguments go to
# clang (e.g. -mcpu=v3 for atomics whose result is used: Linux 5.12+).
find_program(XCAP_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(XCAP_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
                OUTPUT_VARIABLE XCAP_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)

function(xcap_bpf_skeleton target source)
  get_filename_component(src ${source} ABSOLUTE)
  get_filename_component(file ${src} NAME)
  string(REGEX REPLACE "\\.bpf\\.c$" "" name ${file})
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${XCAP_CLANG} -O2 -g -target bpf -Wall -Werror -D__TARGET_ARCH_x86
            -I${PROJECT_SOURCE_DIR}/bpf -I/usr/include/${XCAP_MULTIARCH}
            ${ARGN} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPFILE ${obj}.d
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/bpf/xcap_abi.h ${PROJECT_SOURCE_DIR}/bpf/xcap_record.bpf.h
            ${PROJECT_SOURCE_DIR}/bpf/xcap_cbpf.bpf.h ${PROJECT_SOURCE_DIR}/bpf/xcap_cbpf_abi.h
            ${PROJECT_SOURCE_DIR}/bpf/xcap_tap.bpf.h ${PROJECT_SOURCE_DIR}/bpf/xcap_nic.bpf.h
    COMMENT "BPF ${file}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "${XCAP_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${skel} ${obj})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_BINARY_DIR} ${PROJECT_SOURCE_DIR}/bpf)
  set_target_properties(${target} PROPERTIES XCAP_BPF_OBJECT ${obj})
endfunction()
