# Warning flags shared by every glomail target (glomail_warnings(<target>)).
function(glomail_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wformat=2 -Wwrite-strings -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wvla -Wnull-dereference
    -Wimplicit-fallthrough)
  if(GLOMAIL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
