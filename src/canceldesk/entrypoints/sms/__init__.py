"""SMS commands (operator style): `0000`, serial replies, `Y`, `取消`+serial, `CXXZ#姓名#证件号码`."""
