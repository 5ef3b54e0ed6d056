// sdkapps.Order (tests/sdkapps/order.proto) as a google-protobuf message
// class: the shape protoc's JavaScript generator gives (getters, setters,
// serializeBinary, static deserializeBinary), written with google-protobuf's
// own BinaryWriter/BinaryReader because that generator is no longer shipped
// with protoc. StateFun.protoType needs exactly this interface.
"use strict";

const jspb = require("google-protobuf");

class Order {
  constructor() {
    this.id = "";
    this.item = "";
    this.qty = 0;
  }

  getId() { return this.id; }
  setId(v) { this.id = v; return this; }
  getItem() { return this.item; }
  setItem(v) { this.item = v; return this; }
  getQty() { return this.qty; }
  setQty(v) { this.qty = v; return this; }

  serializeBinary() {
    const w = new jspb.BinaryWriter();
    if (this.id) w.writeString(1, this.id);
    if (this.item) w.writeString(2, this.item);
    if (this.qty) w.writeInt32(3, this.qty);
    return w.getResultBuffer();
  }

  static deserializeBinary(bytes) {
    const r = new jspb.BinaryReader(bytes);
    const o = new Order();
    while (r.nextField() && !r.isEndGroup()) {
      switch (r.getFieldNumber()) {
        case 1: o.id = r.readString(); break;
        case 2: o.item = r.readString(); break;
        case 3: o.qty = r.readInt32(); break;
        default: r.skipField(); // unknown fields, as protobuf does
      }
    }
    return o;
  }
}

module.exports = {Order};
