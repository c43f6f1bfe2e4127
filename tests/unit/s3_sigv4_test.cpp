/*
 * s3_sigv4_test.cpp
 *     SigV4 against AWS's published vectors: "get-vanilla" of the aws-sig-v4-test-suite, and the
 *     four S3 examples of "Signature Calculations for the Authorization Header: Transferring
 *     Payload in a Single Chunk" (GET object with a range, PUT object, GET bucket lifecycle,
 *     list objects), which use the documentation's example keys.
 */
#include <gtest/gtest.h>

#include "s3_sigv4.h"

namespace pg_ark {
namespace {

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

SigV4Credentials S3ExampleKeys() {
    return {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
}

TEST(SigV4Test, GetVanilla) {
    SigV4Request request;
    request.method = "GET";
    request.path = "/";
    request.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    request.payload_sha256 = kEmptySha256;
    EXPECT_EQ(SigV4CanonicalRequest(request),
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
              "host;x-amz-date\n" + std::string(kEmptySha256));
    EXPECT_EQ(SigV4StringToSign("20150830T123600Z", "20150830/us-east-1/service/aws4_request",
                                SigV4CanonicalRequest(request)),
              "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    SigV4Credentials keys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    EXPECT_EQ(SigV4Authorization(request, keys, "us-east-1", "service", "20150830T123600Z"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, S3GetObjectWithRange) {
    SigV4Request request;
    request.method = "GET";
    request.path = "/test.txt";
    request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"Range", "bytes=0-9"},
                       {"x-amz-content-sha256", kEmptySha256},
                       {"x-amz-date", "20130524T000000Z"}};
    request.payload_sha256 = kEmptySha256;
    EXPECT_EQ(SigV4CanonicalRequest(request),
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:" + std::string(kEmptySha256) +
                  "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                  kEmptySha256);
    EXPECT_EQ(SigV4Authorization(request, S3ExampleKeys(), "us-east-1", "s3", "20130524T000000Z"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, S3PutObject) {
    std::string payload = "Welcome to Amazon S3.";
    SigV4Request request;
    request.method = "PUT";
    request.path = "/" + UriEncode("test$file.text", true);
    request.payload_sha256 = Sha256Hex(payload.data(), payload.size());
    EXPECT_EQ(request.payload_sha256, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                       {"x-amz-date", "20130524T000000Z"},
                       {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                       {"x-amz-content-sha256", request.payload_sha256}};
    EXPECT_EQ(request.path, "/test%24file.text");
    EXPECT_EQ(SigV4Authorization(request, S3ExampleKeys(), "us-east-1", "s3", "20130524T000000Z"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
              "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, S3GetBucketLifecycle) {
    SigV4Request request;
    request.method = "GET";
    request.path = "/";
    request.query = {{"lifecycle", ""}};
    request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"x-amz-date", "20130524T000000Z"},
                       {"x-amz-content-sha256", kEmptySha256}};
    request.payload_sha256 = kEmptySha256;
    EXPECT_EQ(SigV4Authorization(request, S3ExampleKeys(), "us-east-1", "s3", "20130524T000000Z"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
              "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Test, S3ListObjects) {
    SigV4Request request;
    request.method = "GET";
    request.path = "/";
    request.query = {{"prefix", "J"}, {"max-keys", "2"}}; /* sorted by the signer */
    request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"x-amz-date", "20130524T000000Z"},
                       {"x-amz-content-sha256", kEmptySha256}};
    request.payload_sha256 = kEmptySha256;
    EXPECT_EQ(SigV4Authorization(request, S3ExampleKeys(), "us-east-1", "s3", "20130524T000000Z"),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
              "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, UriEncodeKeepsUnreservedAndSlashOnlyInPaths) {
    EXPECT_EQ(UriEncode("a b/c~d_e.f-g+h", true), "a%20b/c~d_e.f-g%2Bh");
    EXPECT_EQ(UriEncode("a/b=c", false), "a%2Fb%3Dc");
}

}  // namespace
}  // namespace pg_ark
