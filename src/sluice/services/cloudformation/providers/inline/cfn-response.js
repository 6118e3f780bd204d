// cfn-response: what CloudFormation puts beside inline (ZipFile) Node.js code, so a custom
// resource's handler can answer with response.send(event, context, response.SUCCESS, data).
// Written for Sluice to the module's documented interface.
exports.SUCCESS = "SUCCESS";
exports.FAILED = "FAILED";

exports.send = function (event, context, responseStatus, responseData, physicalResourceId, noEcho) {
  var body = JSON.stringify({
    Status: responseStatus,
    Reason: "See the details in CloudWatch Log Stream: " + context.logStreamName,
    PhysicalResourceId: physicalResourceId || context.logStreamName,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: noEcho || false,
    Data: responseData
  });
  console.log("Response body:\n", body);
  // context.done ends a callback-style handler; newer runtimes' async handlers have none.
  var finish = function () { if (typeof context.done === "function") context.done(); };
  var url = new URL(event.ResponseURL);
  var transport = url.protocol === "http:" ? require("http") : require("https");
  var request = transport.request(url, {
    method: "PUT",
    headers: { "content-type": "", "content-length": Buffer.byteLength(body) }
  }, function (response) {
    console.log("Status code: " + response.statusCode);
    finish();
  });
  request.on("error", function (error) {
    console.log("send(..) failed executing https.request(..): " + error);
    finish();
  });
  request.write(body);
  request.end();
};
