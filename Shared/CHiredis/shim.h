#ifndef IOTS_CHIREDIS_SHIM_H
#define IOTS_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
