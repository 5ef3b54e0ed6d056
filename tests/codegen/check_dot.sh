#!/bin/sh
# check_dot.sh SF_CODEGEN SOURCE_DIR OUT_DIR - `sf-codegen --dot` over the
# two examples without --src: the expected call edges and await nodes are
# there, the edge counts are right, no order is invented for the awaits
# (that needs the C body: check_dot_flow.py), and -o writes the same text
# as standard output.
set -u
sfc=$1
src=$2
out=$3
fail=0
mkdir -p "$out"
shop=$src/examples/shopping-cart/shop.ir.json
hotel=$src/examples/hotel/hotel.ir.json
"$sfc" --dot "$shop" > "$out/shop.dot" || { echo "--dot shop failed"; exit 1; }
"$sfc" --dot "$hotel" -o "$out/hotel.dot" || { echo "--dot -o hotel failed"; exit 1; }
"$sfc" --dot "$hotel" > "$out/hotel-stdout.dot" || exit 1
cmp -s "$out/hotel.dot" "$out/hotel-stdout.dot" || { echo "-o and stdout differ"; fail=1; }
expect() { # FILE LINE: LINE (trimmed) is a line of FILE
  if ! sed 's/^ *//' "$1" | grep -Fxq -- "$2"; then
    echo "$(basename "$1"): missing: $2"
    fail=1
  fi
}
count() { # FILE REGEX N: N lines match REGEX (grep -E)
  c=$(grep -Ec -- "$2" "$1")
  if [ "$c" -ne "$3" ]; then
    echo "$(basename "$1"): $c lines with '$2', expected $3"
    fail=1
  fi
}
d=$out/shop.dot
expect "$d" 'digraph "shop" {'
expect "$d" '"User" -> "Item" [label="add_to_basket: get_stock"];'
expect "$d" '"User" -> "Item" [label="add_to_basket: get_price"];'
expect "$d" '"User" -> "Item" [label="checkout: get_price"];'
expect "$d" '"User" -> "Item" [label="checkout: reserve"];'
expect "$d" '"User" -> "Item" [label="checkout: release"];'
expect "$d" '"User" -> "Item" [label="ping_item: ping_user"];'
expect "$d" '"Item" -> "User" [label="ping_user: get_balance"];'
count "$d" '^ *"[A-Za-z_]+" -> "[A-Za-z_]+" \[label=' 11
count "$d" '^ *"User" -> "Item" \[label=' 10
expect "$d" '"User.add_to_basket/await/stock" [label="stock\nItem.get_stock", shape=box, style=rounded];'
expect "$d" '"User.checkout/await/release" [label="release\nItem.release", shape=box, style=rounded];'
expect "$d" 'label="User.checkout: its awaits (the order is in the C body: --src FILE)";'
count "$d" '^ *"[A-Za-z_]+\.[a-z_]+/' 11
count "$d" '^ *"[A-Za-z_]+\.[a-z_]+/[^"]*" -> ' 0
count "$d" '^ *subgraph "cluster_' 6
d=$out/hotel.dot
expect "$d" '"Search" -> "Geo" [label="nearby: nearby"];'
expect "$d" '"Search" -> "Rate" [label="nearby: get_rates"];'
expect "$d" '"Frontend" -> "Search" [label="search: nearby"];'
expect "$d" '"Frontend" -> "Reservation" [label="search: check_availability"];'
expect "$d" '"Frontend" -> "Profile" [label="search: get_profiles"];'
expect "$d" '"Frontend" -> "Recommend" [label="recommend: recommend"];'
expect "$d" '"Frontend" -> "Profile" [label="recommend: get_profiles"];'
expect "$d" '"Frontend" -> "User" [label="reserve: login"];'
expect "$d" '"Frontend" -> "Reservation" [label="reserve: add_reservation"];'
expect "$d" '"Frontend" -> "User" [label="login: login"];'
count "$d" '^ *"[A-Za-z_]+" -> "[A-Za-z_]+" \[label=' 10
count "$d" '^ *subgraph "cluster_' 5
expect "$d" '"Frontend.search/await/availability" [label="availability\nReservation.check_availability", shape=box, style=rounded];'
count "$d" '^ *"[A-Za-z_]+\.[a-z_]+/[^"]*" -> ' 0
# When Graphviz is installed, it must accept the text.
if command -v dot >/dev/null 2>&1; then
  dot -Tsvg "$out/shop.dot" > /dev/null || { echo "dot rejects shop.dot"; fail=1; }
  "$sfc" --dot --svg "$hotel" -o "$out/hotel.svg" || { echo "--svg failed"; fail=1; }
  grep -q '<svg' "$out/hotel.svg" || { echo "hotel.svg is no SVG"; fail=1; }
fi
[ $fail -eq 0 ] && echo "dot output ok"
exit $fail
